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
  setNoDelay() {}
  cork() {}
  uncork() {}
  write(chunk: string | Buffer) {
    this.written.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    return true;
  }
}

/** Just enough of a ServerResponse: what the repository reads and calls. */
class FakeResponse extends EventEmitter {
  writableEnded = false;
  chunkedEncoding = true;
  socket = new FakeSocket();
  writeHead() {
    return this;
  }
  flushHeaders() {}
  end() {
    this.writableEnded = true;
  }
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
    // HTTP/1.1 chunks, framed by the repository: hex size, CRLF, the event, CRLF.
    expect(res.socket.written.map(String)).toEqual([
      'd\r\nretry: 1000\n\n\r\n',
      expect.stringMatching(/^[0-9a-f]+\r\nevent: hello\ndata: \{"connectionId":"[^"]+","serverTime":[\d.]+\}\n\n\r\n$/),
      '10\r\nid: 1\ndata: {}\n\n\r\n',
    ]);
    expect(res.writableEnded).toBe(true);
    expect(repo.stats()).toEqual({ connections: 0, subscriptions: 0, timers: 0 });
  });

  it('writes one prebuilt chunk to every single-topic stream, and its own id line before the shared rest on a multiplexed one', async () => {
    const repo = new SseRepository(config, new TelemetryRepository(), new NetsimRepository());
    const open = async (composite: boolean, chunked = true) => {
      const res = new FakeResponse();
      res.chunkedEncoding = chunked;
      await repo.open(res as unknown as ServerResponse, {
        topics: composite ? [{ topic: 'notifications', stream: 'user:1', start: 4, source }, { topic: 'blog:1', stream: 'blog:1', start: 0, source }] : [{ topic: 'blog:1', stream: 'blog:1', start: 0, source }],
        composite,
      });
      res.socket.written.length = 0; // retry and hello
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
