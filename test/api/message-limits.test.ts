import { afterEach, describe, expect, test } from 'vitest';
import { postJson, signUp, WsClient } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

// The text limits are settings (CHAT_MAX_TEXT_CHARS, BLOG_MAX_UPDATE_CHARS): one over is refused
// with a clear error and nothing is stored or sent; exactly the limit is accepted.
describe('configurable message limits', () => {
  let server: TestServer;
  afterEach(async () => {
    await server?.close();
    server?.cleanup();
  });

  test('a chat message over CHAT_MAX_TEXT_CHARS is refused; one at the limit is stored', async () => {
    server = await startServer({ chatMaxTextChars: 10 });
    const alice = await signUp(server.url, 'alice');
    const ws = await WsClient.connect(server.wsUrl, alice.cookie);
    await ws.join('general');
    ws.send('message', { room: 'general', text: 'x'.repeat(11), clientId: 'too-long' });
    const error = await ws.waitFor('error');
    expect(error).toMatchObject({ code: 'invalid', ref: 'too-long' });
    expect(String(error.message)).toContain('1 to 10 characters');
    ws.send('message', { room: 'general', text: 'y'.repeat(10), clientId: 'at-limit' });
    const ack = await ws.waitFor('ack');
    expect(ack).toMatchObject({ clientId: 'at-limit', seq: 1 });
    ws.close();
  });

  test('a blog update over BLOG_MAX_UPDATE_CHARS gets 413; one at the limit 201', async () => {
    server = await startServer({ blogMaxUpdateChars: 20 });
    const alice = await signUp(server.url, 'alice');
    const auth = { cookie: alice.cookie };
    const blog = (await (await postJson(server.url, '/api/blogs', { title: 'b' }, auth)).json()) as { id: number };
    const tooLong = await postJson(server.url, `/api/blogs/${blog.id}/updates`, { body: 'x'.repeat(21) }, auth);
    expect(tooLong.status).toBe(413);
    const ok = await postJson(server.url, `/api/blogs/${blog.id}/updates`, { body: 'y'.repeat(20) }, auth);
    expect(ok.status).toBe(201);
    const snapshot = (await (await fetch(`${server.url}/api/blogs/${blog.id}`)).json()) as { updates: { body: string }[] };
    expect(snapshot.updates.map((u) => u.body)).toEqual(['y'.repeat(20)]);
  });
});
