import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeWsAdapter } from '../../apps/api/src/gateways/ws.adapter.js';
import type { OriginPolicy } from '../../apps/api/src/middleware/origin-policy.js';

// Two feature gateways on one path, as the chat gateway and a new feature's would be: the
// adapter routes each event to its gateway through one listener per socket, and keeps no
// handler per socket (Nest's per-socket bound callbacks are replaced by a shared router).

const serverSockets: WebSocket[] = [];

@WebSocketGateway({ path: '/ws' })
class EchoGateway {
  @SubscribeMessage('echo')
  echo(@ConnectedSocket() socket: WebSocket, @MessageBody() data: unknown) {
    if (!serverSockets.includes(socket)) serverSockets.push(socket);
    return { event: 'echo', data };
  }
}

@WebSocketGateway({ path: '/ws' })
class DoubleGateway {
  @SubscribeMessage('double')
  async double(@MessageBody() data: { n: number }) {
    await Promise.resolve();
    return { event: 'doubled', data: { n: data.n * 2 } };
  }
}

@Module({ providers: [EchoGateway, DoubleGateway] })
class TwoGatewaysModule {}

let app: INestApplication;
let adapter: RealtimeWsAdapter;
let url: string;

beforeAll(async () => {
  app = await NestFactory.create(TwoGatewaysModule, { logger: false });
  adapter = new RealtimeWsAdapter(app, {
    authenticate: async () => ({ user: { id: 1, username: 'someone' }, expiresAt: Date.now() + 60_000, sessionId: 's' }),
    perMessageDeflate: false,
    origins: { isAllowed: () => true } as unknown as OriginPolicy,
    maxFrameBytes: 64 * 1024,
    send: (socket, frame) => socket.send(frame),
  });
  app.useWebSocketAdapter(adapter);
  await app.listen(0, '127.0.0.1');
  url = `ws://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}/ws`;
});
afterAll(async () => {
  await app.close();
});

/** A client that collects every frame it receives. */
async function client(): Promise<{ ws: WebSocket; next(): Promise<unknown> }> {
  const ws = new WebSocket(url);
  const frames: unknown[] = [];
  const waiting: ((frame: unknown) => void)[] = [];
  ws.on('message', (data) => {
    const frame: unknown = JSON.parse(String(data));
    const resolve = waiting.shift();
    if (resolve) resolve(frame);
    else frames.push(frame);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, next: () => (frames.length > 0 ? Promise.resolve(frames.shift()) : new Promise((resolve) => waiting.push(resolve))) };
}

describe('feature gateways on one /ws', () => {
  it("routes each event to its own gateway's handler, and refuses one no gateway handles", async () => {
    const a = await client();
    a.ws.send(JSON.stringify({ event: 'echo', data: { text: 'hi' } }));
    expect(await a.next()).toEqual({ event: 'echo', data: { text: 'hi' } });
    a.ws.send(JSON.stringify({ event: 'double', data: { n: 21 } }));
    expect(await a.next()).toEqual({ event: 'doubled', data: { n: 42 } });
    a.ws.send(JSON.stringify({ event: 'triple', data: { n: 1 } }));
    expect(await a.next()).toMatchObject({ event: 'error', data: { code: 'unknown_event' } });
    a.ws.close();
  });

  it('shares one router between sockets and gives each socket no listener of its own for frames, pings, errors or closes', async () => {
    const [a, b] = [await client(), await client()];
    for (const c of [a, b]) {
      c.ws.send(JSON.stringify({ event: 'echo', data: {} }));
      await c.next();
    }
    const [sa, sb] = serverSockets.slice(-2) as [WebSocket, WebSocket];
    expect(sa).not.toBe(sb);
    const router = adapter.routerOf(sa);
    expect(router).toBeDefined();
    expect(adapter.routerOf(sb)).toBe(router);
    expect([...router!.routes.keys()].sort()).toEqual(['double', 'echo']);
    // The adapter's socket class routes them (see RealtimeWsAdapter); the one `close` listener is ws's own client tracking.
    for (const event of ['message', 'ping', 'pong', 'error']) expect(sa.listenerCount(event), event).toBe(0);
    expect(sa.listenerCount('close')).toBe(1);
    a.ws.close();
    b.ws.close();
  });
});
