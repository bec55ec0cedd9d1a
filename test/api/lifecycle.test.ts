import { describe, expect, it } from 'vitest';
import { readStream, signUp, WsClient } from '../support/clients.js';
import { startServer } from '../support/server.js';

describe('shutdown', () => {
  it('ends open SSE streams and closes WebSockets with 1012 (reconnect elsewhere), so the server stops promptly', async () => {
    const server = await startServer();
    const user = await signUp(server.url, 'leaver');
    const ws = await WsClient.connect(server.wsUrl, user.cookie);
    await ws.join('general');
    const res = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: user.cookie } });
    const ended = readStream(res, () => false, 10_000);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await ws.waitClosed()).toBe(1012);
    expect(await ended).toMatch(/^retry: 1000\n\nevent: hello\ndata: \{[^\n]*\}\n\n$/); // ended cleanly, nothing half-written
    server.cleanup();
  });
});
