import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { SseRepository } from './sse.repository.js';
import { NetsimRepository } from './netsim.repository.js';
import { TelemetryRepository } from './telemetry.repository.js';

/** Just enough of a TCP socket: streams write their chunks straight to it. */
class FakeSocket {
  writableLength = 0;
  destroyed = false;
  written: Buffer[] = [];
  ended = false;
  setNoDelay() {}
  end() {
    this.ended = true;
  }
  cork() {}
  uncork() {}
  write(chunk: string | Buffer) {
    this.written.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    return true;
  }
}

/** Just enough of a ServerResponse: what the repository reads and calls. */
class FakeResponse extends EventEmitter {
  req = { httpVersionMajor: 1, httpVersionMinor: 1 };
  socket = new FakeSocket();
}

const text = (seq: number) => ({ seq, plain: `id: ${seq}\ndata: {}\n\n`, plainPayloadBytes: 2, body: 'event: update\ndata: {}\n\n', bodyPayloadBytes: 2 });

const config = { sseRetryMs: 1000, sseHeartbeatMs: 60_000, sseMaxBufferedBytes: 100 } as AppConfig;
const source = { initial: async () => ({ items: [], position: 0 }), after: async () => [] };

describe('SseRepository', () => {
  it('ends a stream whose unsent buffer passes the cap, and forgets it', async () => {
    const repo = new SseRepository(config, new TelemetryRepository(), new NetsimRepository());
    const res = new FakeResponse();
    await repo.open(res as unknown as ServerResponse, {
      topics: [{ topic: 'blog:1', stream: 'blog:1', start: 0, source }],
      composite: false,
    });
    repo.deliver('blog:1', text(1));
    res.socket.writableLength = 101;
    repo.deliver('blog:1', text(2));
    // The head, written by the repository (Node's response holds no copy), then HTTP/1.1
    // chunks framed by it: hex size, CRLF, the event, CRLF; the last chunk ends the body.
    expect(res.socket.written.map(String)).toEqual([
      'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\nConnection: close\r\n',
      expect.stringMatching(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\nTransfer-Encoding: chunked\r\n\r\n$/),
      'd\r\nretry: 1000\n\n\r\n',
      expect.stringMatching(/^[0-9a-f]+\r\nevent: hello\ndata: \{"connectionId":"[^"]+","serverTime":[\d.]+\}\n\n\r\n$/),
      '10\r\nid: 1\ndata: {}\n\n\r\n',
      '0\r\n\r\n',
    ]);
    expect(res.socket.ended).toBe(true);
    expect(repo.stats()).toEqual({ connections: 0, subscriptions: 0, timers: 0 });
  });

  it('writes one prebuilt chunk to every single-topic stream, and its own id line before the shared rest on a multiplexed one', async () => {
    const repo = new SseRepository(config, new TelemetryRepository(), new NetsimRepository());
    const open = async (composite: boolean, chunked = true) => {
      const res = new FakeResponse();
      if (!chunked) res.req = { httpVersionMajor: 1, httpVersionMinor: 0 };
      await repo.open(res as unknown as ServerResponse, {
        topics: composite ? [{ topic: 'notifications', stream: 'user:1', start: 4, source }, { topic: 'blog:1', stream: 'blog:1', start: 0, source }] : [{ topic: 'blog:1', stream: 'blog:1', start: 0, source }],
        composite,
      });
      res.socket.written.length = 0; // head, retry and hello
      return res;
    };
    const [a, b, multi, http10] = [await open(false), await open(false), await open(true), await open(false, false)];
    repo.deliver('blog:1', text(1));
    expect(a.socket.written).toEqual([Buffer.from('10\r\nid: 1\ndata: {}\n\n\r\n')]);
    expect(b.socket.written[0]).toBe(a.socket.written[0]);
    expect(String(Buffer.concat(multi.socket.written))).toBe('35\r\nid: notifications=4,blog:1=1\nevent: update\ndata: {}\n\n\r\n');
    expect(String(Buffer.concat(http10.socket.written))).toBe('id: 1\ndata: {}\n\n'); // no chunked encoding to frame
  });
});
