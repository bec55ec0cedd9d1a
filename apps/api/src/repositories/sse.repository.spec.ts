import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { SseRepository } from './sse.repository.js';
import { NetsimRepository } from './netsim.repository.js';
import { TelemetryRepository } from './telemetry.repository.js';

/** Just enough of a ServerResponse: what the repository reads and calls. */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  writableEnded = false;
  written: string[] = [];
  socket = { setNoDelay() {} };
  writeHead() {
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.written.push(chunk);
    return true;
  }
  end() {
    this.writableEnded = true;
  }
}

const config = { sseRetryMs: 1000, sseHeartbeatMs: 60_000, sseMaxBufferedBytes: 100 } as AppConfig;
const source = { initial: async () => ({ items: [], position: 0 }), after: async () => [] };

describe('SseRepository', () => {
  it('ends a stream whose unsent buffer passes the cap, and forgets it', async () => {
    const repo = new SseRepository(config, new TelemetryRepository(), new NetsimRepository());
    const res = new FakeResponse();
    await repo.open(new EventEmitter() as IncomingMessage, res as unknown as ServerResponse, {
      topics: [{ topic: 'blog:1', stream: 'blog:1', start: 0, source }],
      composite: false,
    });
    repo.deliver('blog:1', { seq: 1, body: 'event: update\ndata: {}\n\n', plain: 'data: {}\n\n', payloadBytes: 2 });
    res.writableLength = 101;
    repo.deliver('blog:1', { seq: 2, body: 'event: update\ndata: {}\n\n', plain: 'data: {}\n\n', payloadBytes: 2 });
    expect(res.written).toEqual(['retry: 1000\n\n', expect.stringMatching(/^event: hello\ndata: \{"connectionId":"[^"]+","serverTime":[\d.]+\}\n\n$/), 'id: 1\ndata: {}\n\n']);
    expect(res.writableEnded).toBe(true);
    expect(repo.stats()).toEqual({ connections: 0, subscriptions: 0, timers: 0 });
  });
});
