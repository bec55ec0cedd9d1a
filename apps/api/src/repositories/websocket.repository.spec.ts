import { EventEmitter } from 'node:events';
import { WsCloseCode } from '@rt/protocol';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { AppConfig } from '../config/app-config.js';
import { NetsimRepository } from './netsim.repository.js';
import { TelemetryRepository } from './telemetry.repository.js';
import { WebSocketRepository, WsFrame } from './websocket.repository.js';

/** Just enough of a ws socket: what the repository reads and calls. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  extensions = '';
  bufferedAmount = 0;
  sent: string[] = [];
  closed?: { code: number; reason: string };
  terminated = false;
  send(frame: string | Buffer) {
    this.sent.push(String(frame));
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = WebSocket.CLOSING;
  }
  terminate() {
    this.terminated = true;
    this.readyState = WebSocket.CLOSED;
  }
  ping() {}
}

const config = { wsMaxBufferedBytes: 1000, wsPingIntervalMs: 25_000 } as AppConfig;
const user = { id: 1, username: 'u' };
const noReplay = { initial: async () => ({ items: [], position: 0 }), after: async () => [] };

describe('WebSocketRepository', () => {
  it('greets every connection with its id and the server clock', () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const socket = new FakeSocket();
    const id = repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
    expect(JSON.parse(socket.sent[0]!)).toEqual({ event: 'hello', data: { connectionId: id, serverTime: expect.any(Number) } });
  });

  it('closes a reader that has fallen behind with 4008 and writes nothing more to it', async () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const socket = new FakeSocket();
    repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
    await repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: noReplay, changes: noReplay }, () => {});
    repo.broadcastMessage('r', { seq: 1, frame: 'one' });
    socket.bufferedAmount = 1001;
    repo.broadcastMessage('r', { seq: 2, frame: 'two' });
    repo.broadcastMessage('r', { seq: 3, frame: 'three' });
    expect(socket.sent.slice(1)).toEqual(['one']); // after the hello
    expect(socket.closed).toEqual({ code: WsCloseCode.slowConsumer, reason: 'too slow: reconnect and resume' });
  });

  it('waits for the socket to drain (to half the cap) between replay pages', async () => {
    vi.useFakeTimers();
    try {
      const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
      const socket = new FakeSocket();
      repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
      const pages: number[] = [];
      const item = (seq: number) => ({ seq, frame: `m${seq}` });
      const source = {
        initial: async () => {
          socket.bufferedAmount = 600; // the first page filled the socket past half the cap
          return { items: [item(1), item(2)], position: 2, more: true };
        },
        after: async (after: number) => {
          pages.push(after);
          return after < 4 ? [item(after + 1), item(after + 2)] : [];
        },
      };
      const joined = repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: source, changes: noReplay }, () => {});
      await vi.advanceTimersByTimeAsync(50);
      expect(pages).toEqual([]); // still waiting for the drain
      socket.bufferedAmount = 0;
      await vi.advanceTimersByTimeAsync(50);
      await joined;
      expect(socket.sent.slice(1)).toEqual(['m1', 'm2', 'm3', 'm4']);
      expect(socket.closed).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes a replaying reader that does not drain within a ping interval with 4008', async () => {
    vi.useFakeTimers();
    try {
      const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
      const socket = new FakeSocket();
      repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
      const source = {
        initial: async () => {
          socket.bufferedAmount = 600; // past half the cap, and it never drains
          return { items: [{ seq: 1, frame: 'm1' }], position: 1, more: true };
        },
        after: async () => [],
      };
      const joined = repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: source, changes: noReplay }, () => {});
      await vi.advanceTimersByTimeAsync(config.wsPingIntervalMs - 100);
      expect(socket.closed).toBeUndefined();
      await vi.advanceTimersByTimeAsync(200);
      await joined;
      expect(socket.closed).toEqual({ code: WsCloseCode.slowConsumer, reason: 'too slow: reconnect and resume' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a replay against the cap: a reader past it mid-replay is closed with 4008', async () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const socket = new FakeSocket();
    repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
    socket.send = function (frame: string | Buffer) {
      this.sent.push(String(frame));
      this.bufferedAmount += 600;
    };
    const items = [1, 2, 3].map((seq) => ({ seq, frame: `m${seq}` }));
    const source = { initial: async () => ({ items, position: 3 }), after: async () => [] };
    await repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: source, changes: noReplay }, () => {});
    expect(socket.sent.slice(1)).toEqual(['m1', 'm2']); // the third found 1,200 bytes waiting
    expect(socket.closed).toEqual({ code: WsCloseCode.slowConsumer, reason: 'too slow: reconnect and resume' });
  });

  it('answers a second join of the same room with the current position and no replay', async () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const socket = new FakeSocket();
    repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000);
    let reads = 0;
    const source = {
      initial: async () => {
        reads++;
        return { items: [{ seq: 1, frame: 'm1' }], position: 1 };
      },
      after: async () => [],
    };
    const positions: unknown[] = [];
    const first = repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: source, changes: noReplay }, (p) => positions.push(p));
    const second = repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: source, changes: noReplay }, (p) => positions.push(p));
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(reads).toBe(1);
    expect(socket.sent.slice(1)).toEqual(['m1']);
    expect(positions).toEqual([{ lastSeq: 1, lastRev: 0 }, { lastSeq: 1, lastRev: 0 }]);
  });

  it('writes a prebuilt frame as the same bytes to every socket, through ws where it compresses', async () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const tcpWrites: Buffer[][] = [];
    const sockets = [0, 1, 2].map((i) => {
      const socket = new FakeSocket();
      if (i === 2) socket.extensions = 'permessage-deflate';
      const writes: Buffer[] = [];
      tcpWrites.push(writes);
      const tcp = { bytesWritten: 0, writableLength: 0, write: (b: Buffer) => writes.push(b), cork: () => {}, uncork: () => {} };
      repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000, tcp as never);
      return socket;
    });
    for (const socket of sockets) await repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: noReplay, changes: noReplay }, () => {});
    const frame = new WsFrame('[1,1,1,"u",0,"hi"]');
    repo.broadcastMessage('r', { seq: 1, frame });
    // RFC 6455: FIN + text opcode, unmasked, 7-bit length, then the payload.
    expect(frame.wire).toEqual(Buffer.concat([Buffer.from([0x81, frame.payload.length]), Buffer.from('[1,1,1,"u",0,"hi"]')]));
    expect(tcpWrites[0]).toEqual([frame.wire]);
    expect(tcpWrites[1]![0]).toBe(tcpWrites[0]![0]); // the very same Buffer, not a copy
    expect(tcpWrites[2]).toEqual([]); // permessage-deflate: ws frames (and compresses) it
    expect(sockets[2]!.sent.at(-1)).toBe('[1,1,1,"u",0,"hi"]');
    expect(sockets[0]!.sent.slice(1)).toEqual([]); // nothing of it through ws on the direct sockets
  });

  it('corks a socket for the rest of the turn: a batch of frames leaves in one write, in order, right after it', async () => {
    const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
    const log: string[] = [];
    let corked = 0;
    const tcp = {
      bytesWritten: 0,
      writableLength: 0,
      write: (b: Buffer) => log.push(`${corked > 0 ? 'held' : 'sent'} ${b.subarray(2).toString()}`),
      cork: () => corked++,
      uncork: () => {
        if (corked > 0 && --corked === 0) log.push('flushed');
      },
    };
    const socket = new FakeSocket();
    repo.register(socket as unknown as WebSocket, user, Date.now() + 60_000, tcp as never);
    await repo.join(socket as unknown as WebSocket, { name: 'r', id: 1 }, { messages: noReplay, changes: noReplay }, () => {});
    await new Promise((r) => setImmediate(r));
    log.length = 0;
    for (const seq of [1, 2, 3]) repo.broadcastMessage('r', { seq, frame: new WsFrame(`m${seq}`) });
    expect(log).toEqual(['held m1', 'held m2', 'held m3']);
    await new Promise((r) => process.nextTick(r));
    expect(log).toEqual(['held m1', 'held m2', 'held m3', 'flushed']);
    expect(corked).toBe(0);
  });

  it('closes with 4001 once the session has expired (within the one-second sweep), never before', () => {
    vi.useFakeTimers({ now: 10_000 });
    try {
      const repo = new WebSocketRepository(config, new TelemetryRepository(), new NetsimRepository());
      const socket = new FakeSocket();
      repo.register(socket as unknown as WebSocket, user, Date.now() + 1500);
      vi.advanceTimersByTime(1499);
      expect(socket.closed).toBeUndefined();
      vi.advanceTimersByTime(501);
      expect(socket.closed).toEqual({ code: WsCloseCode.sessionExpired, reason: 'session expired' });
    } finally {
      vi.useRealTimers();
    }
  });
});
