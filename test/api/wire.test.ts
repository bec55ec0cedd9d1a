import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, postJson, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { countingProxy } from '../support/recording-proxy.js';
import { startServer, type TestServer } from '../support/server.js';

/** The server's WebSocket frames in `bytes` (what follows the 101 answer), each whole: header and payload. */
function wsFrames(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let head = 2;
    if (length === 126) [length, head] = [bytes.readUInt16BE(at + 2), 4];
    else if (length === 127) [length, head] = [Number(bytes.readBigUInt64BE(at + 2)), 10];
    if (at + head + length > bytes.length) break;
    frames.push(bytes.subarray(at, at + head + length));
    at += head + length;
  }
  return frames;
}

/** The chunks of a chunked HTTP body, each whole: size line, data, CRLF. */
function httpChunks(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const line = bytes.indexOf('\r\n', at);
    if (line < 0) break;
    const size = Number.parseInt(bytes.subarray(at, line).toString('latin1'), 16);
    const end = line + 2 + size + 2;
    if (!(size > 0) || end > bytes.length) break;
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  return chunks;
}

const TEXT = 'x'.repeat(100);

let server: TestServer;
let writer: SignedIn;
let readers: SignedIn[];
beforeAll(async () => {
  server = await startServer();
  writer = await signUp(server.url, 'writer');
  readers = [await signUp(server.url, 'reader1'), await signUp(server.url, 'reader2'), await signUp(server.url, 'reader3')];
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

describe('frames built once, at the byte level', () => {
  it('WebSocket: every reader gets the very same bytes, 4 + 33 + 100 for a 100-byte text', async () => {
    expect((await postJson(server.url, '/api/rooms', { name: 'wire' }, { cookie: writer.cookie })).status).toBe(201);
    const proxy = await countingProxy(server.port);
    const clients = await Promise.all(readers.map((r) => WsClient.connect(`ws://127.0.0.1:${proxy.port}/ws`, r.cookie)));
    const sender = await WsClient.connect(server.wsUrl, writer.cookie);
    try {
      for (const c of [...clients, sender]) await c.join('wire');
      const roomId = clients[0]!.of('joining')[0]!.id as number;
      sender.send('message', { room: 'wire', text: TEXT, clientId: 'once' });
      const ack = await sender.waitFor('ack', (d) => d.clientId === 'once');
      const [message] = await Promise.all(clients.map((c) => c.waitFor('message', (d) => d.seq === ack.seq)));
      const payload = `[${roomId},${ack.seq as number},${writer.user.id},"writer",${message!.t as number},"${TEXT}"]`;

      const seen = [0, 1, 2].map((i) => wsFrames(proxy.body(i)).filter((f) => f.includes(`,"${TEXT}"`)));
      for (const frames of seen) expect(frames).toHaveLength(1);
      // RFC 6455 header (FIN + text, unmasked, 16-bit length: the payload is over 125 bytes), then
      // the payload: the same on every socket.
      const expected = Buffer.concat([Buffer.from([0x81, 126, 0, Buffer.byteLength(payload)]), Buffer.from(payload)]);
      for (const frames of seen) expect(frames[0]).toEqual(expected);
      // The fixed figure for this case (room 2, seq 1, author 1, "writer", a 13-digit time):
      // 4 bytes of header + 33 of envelope + the 100-byte text = 137, under the 2 + 60 + 100 bound.
      expect([roomId, ack.seq, writer.user.id]).toEqual([2, 1, 1]);
      expect(expected.length).toBe(4 + 33 + 100);
      expect(Buffer.byteLength(payload) - TEXT.length).toBeLessThanOrEqual(60);
    } finally {
      for (const c of [...clients, sender]) c.close();
      await proxy.close();
    }
  });

  it('SSE: every single-topic stream gets the very same chunk, 40 bytes of framing and envelope around a 100-byte text', async () => {
    const blog = (await (await postJson(server.url, '/api/blogs', { title: 'wire' }, { cookie: writer.cookie })).json()) as { id: number };
    const proxy = await countingProxy(server.port);
    const open = (path: string, until: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: proxy.port, path, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if (text.includes(until)) {
              resolve();
              req.destroy();
            }
          });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      });
    const streams = [
      open(`/api/blogs/${blog.id}/stream?lastEventId=0`, 'id: 1\n'),
      open(`/api/blogs/${blog.id}/stream?lastEventId=0`, 'id: 1\n'),
      open(`/api/events?topics=blog:${blog.id}&lastEventId=blog:${blog.id}=0`, `id: blog:${blog.id}=1\n`),
    ];
    await eventually(() => (proxy.count === 3 ? true : undefined));
    const posted = await postJson(server.url, `/api/blogs/${blog.id}/updates`, { body: TEXT }, { cookie: writer.cookie });
    expect(posted.status).toBe(201);
    const update = (await posted.json()) as { id: number; createdAt: string };
    await Promise.all(streams);
    await proxy.close();

    const t = Date.parse(update.createdAt);
    const event = `id: 1\ndata: [${update.id},${t},"${TEXT}"]\n\n`;
    const chunk = Buffer.from(`${Buffer.byteLength(event).toString(16)}\r\n${event}\r\n`);
    const plain = [0, 1].map((i) => httpChunks(proxy.body(i)).filter((c) => c.includes(TEXT)));
    for (const chunks of plain) expect(chunks).toEqual([chunk]);
    // The fixed figure for this case (seq 1, update 1, a 13-digit time): `id: 1\n` (6),
    // `data: ` (6), `[1,t,"` and `"]` (20), `\n\n` (2) and the chunk's size line and CRLF (6).
    expect(update.id).toBe(1);
    expect(chunk.length - TEXT.length).toBe(40);
    // The multiplexed stream: its own id line, then the event with its topic first.
    const multi = httpChunks(proxy.body(2)).filter((c) => c.includes(TEXT));
    expect(multi.map(String)).toEqual([
      expect.stringMatching(new RegExp(`^[0-9a-f]+\r\nid: blog:${blog.id}=1\nevent: update\ndata: \\["blog:${blog.id}",${update.id},${t},"x{100}"\\]\n\n\r\n$`)),
    ]);
  });

  it('WebSocket with permessage-deflate: frames go through ws (compressed, in order)', async () => {
    const deflate = await startServer({ wsPerMessageDeflate: true });
    try {
      const user = await signUp(deflate.url, 'squeezed');
      const proxy = await countingProxy(deflate.port);
      const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`, { headers: { cookie: user.cookie }, perMessageDeflate: { threshold: 0 } });
      const frames: string[] = [];
      socket.on('message', (d) => frames.push(String(d)));
      await new Promise((r) => socket.once('open', r));
      expect(socket.extensions).toContain('permessage-deflate');
      socket.send(JSON.stringify({ event: 'join', data: { room: 'general' } }));
      await eventually(() => (frames.some((f) => f.includes('"joined"')) ? true : undefined));
      socket.send(JSON.stringify({ event: 'message', data: { room: 'general', text: TEXT, clientId: 'z1' } }));
      await eventually(() => (frames.some((f) => f.includes('"ack"')) ? true : undefined));
      const events = frames.map((f) => (f.startsWith('[') ? 'message' : (JSON.parse(f) as { event: string }).event)).filter((e) => e !== 'presence');
      expect(events).toEqual(['hello', 'joining', 'joined', 'message', 'ack']);
      expect(JSON.parse(frames.find((f) => f.startsWith('['))!)).toEqual([1, 1, user.user.id, 'squeezed', expect.any(Number), TEXT]);
      // Compressed on the wire (RSV1 set): ws framed it, not our prebuilt bytes.
      const wire = wsFrames(proxy.body(0));
      expect(wire.some((f) => (f[0]! & 0x40) !== 0)).toBe(true);
      expect(proxy.body(0).includes(TEXT)).toBe(false);
      socket.close();
      await proxy.close();
    } finally {
      await deflate.close();
      deflate.cleanup();
    }
  });
});
