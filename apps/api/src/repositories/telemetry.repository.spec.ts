import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionMeter, type WriteCallback } from './telemetry.repository.js';

/** The three things the meter reads of a socket, set by hand: bytes handed over, still queued, destroyed. */
class FakeSocket {
  bytesWritten = 0;
  writableLength = 0;
  destroyed = false;
  /** Hands `n` bytes over; `completes`: the kernel takes them at once. */
  write(n: number, completes: boolean): void {
    this.bytesWritten += n;
    if (!completes) this.writableLength += n;
  }
}

function meter() {
  const socket = new FakeSocket();
  const totals = { messages: 0, payload: 0, replayed: 0 };
  return { socket, totals, meter: new ConnectionMeter('c1', 1, 'ws', socket as unknown as Socket, totals) };
}

/** Writes a message of `payload` bytes (`wire` on the socket) the way the registries do. */
function send(m: ConnectionMeter, socket: FakeSocket, payload: number, wire: number, completes: boolean, replayed = false): WriteCallback | undefined {
  const done = m.callbackFor(payload, replayed);
  socket.write(wire, completes && done === undefined);
  if (done === undefined) m.wrote(payload, replayed);
  return done;
}

describe('ConnectionMeter: counts a write once it is in the kernel', () => {
  it('counts a write that completes at once, with no callback', () => {
    const { meter: m, socket, totals } = meter();
    expect(send(m, socket, 10, 12, true)).toBeUndefined();
    expect(send(m, socket, 5, 7, true, true)).toBeUndefined();
    expect([m.messagesOut, m.payloadBytesOut, totals.replayed]).toEqual([2, 15, 1]);
  });

  it('waits for a queued write: counted when its callback succeeds, with the write in flight before it', () => {
    const { meter: m, socket, totals } = meter();
    send(m, socket, 100, 102, false); // in flight, partly written: no callback
    const done = send(m, socket, 50, 52, false); // behind it: gets the callback
    expect(done).toBe(m.written);
    expect(m.messagesOut).toBe(0);
    socket.writableLength = 0;
    done!(null);
    expect([m.messagesOut, m.payloadBytesOut, totals.messages, totals.payload]).toEqual([2, 150, 2, 150]);
  });

  it('counts nothing that failed (the socket was destroyed with it queued), nor what was still waiting at the end', () => {
    const { meter: m, socket } = meter();
    send(m, socket, 100, 102, false);
    const first = send(m, socket, 50, 52, false);
    const second = send(m, socket, 70, 72, false);
    socket.destroyed = true;
    first!(new Error('destroyed'));
    second!(new Error('destroyed'));
    expect(m.messagesOut).toBe(0);
    send(m, socket, 1, 3, false);
    m.end();
    expect([m.messagesOut, m.payloadBytesOut]).toEqual([0, 0]);
  });

  it('settles a write in flight when the meter is read and nothing is queued any more', () => {
    const { meter: m, socket } = meter();
    send(m, socket, 100, 102, false);
    m.catchUp();
    expect(m.messagesOut).toBe(0);
    socket.writableLength = 0;
    m.catchUp();
    expect([m.messagesOut, m.payloadBytesOut, m.writtenBytes()]).toEqual([1, 100, 102]);
  });

  it('measures control bytes the same way: counted when written, dropped when cut', () => {
    const { meter: m, socket } = meter();
    m.control(() => socket.write(2, true));
    expect(m.controlBytesOut).toBe(2);
    send(m, socket, 100, 102, false);
    let done: WriteCallback | undefined;
    m.control((cb) => {
      done = cb;
      socket.write(2, false);
    });
    expect(done).toBe(m.written);
    expect(m.controlBytesOut).toBe(2);
    done!(new Error('destroyed'));
    expect([m.controlBytesOut, m.messagesOut]).toEqual([2, 0]);
  });
});
