import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import { outOfOrder, SendOrderGate, willBeResent } from './send-order.js';

/** One write at a time, as a connection without pipelining does it: ask the gate, store, tell it. */
async function admit<T>(gate: SendOrderGate<object>, socket: object, room: string, clientId: string, first: boolean, store: () => Promise<T>): Promise<T> {
  const ticket = gate.ticket(socket, room, clientId, first);
  const owed = ticket.take();
  if (owed !== undefined) throw outOfOrder(owed);
  try {
    return await store();
  } catch (err) {
    ticket.refused(err);
    throw err;
  }
}

const stored = (id: string) => () => Promise.resolve(id);
const refused = (err: unknown) => () => Promise.reject(err);
const rateLimited = new DomainError('rate_limited', 'slow down', { retryAfterMs: 200 });

/** What the gate answers for one message: the stored id, or the refusal's code and details. */
async function outcome(promise: Promise<string>): Promise<string> {
  try {
    return await promise;
  } catch (err) {
    return err instanceof DomainError ? `${err.code} ${JSON.stringify(err.details)}` : 'thrown';
  }
}

describe('SendOrderGate', () => {
  it('refuses every later message of the room after a retryable refusal, until that one comes again', async () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    const seen: string[] = [];
    for (const [id, store] of [
      ['m1', stored('m1')],
      ['m2', refused(rateLimited)],
      ['m3', stored('m3')],
      ['m4', stored('m4')],
      ['m2', stored('m2')],
      ['m3', stored('m3')],
    ] as const) {
      seen.push(await outcome(admit(gate, socket, 'general', id, false, store)));
    }
    expect(seen).toEqual([
      'm1',
      'rate_limited {"retryAfterMs":200}',
      'out_of_order {"expected":"m2"}',
      'out_of_order {"expected":"m2"}',
      'm2',
      'm3',
    ]);
  });

  it('does not run the store for a message it refuses (so it is neither stored nor counted against the rate)', async () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    await outcome(admit(gate, socket, 'r', 'a', false, refused(new Error('database unreachable'))));
    let ran = false;
    const result = await outcome(admit(gate, socket, 'r', 'b', false, () => ((ran = true), Promise.resolve('b'))));
    expect(result).toBe('out_of_order {"expected":"a"}');
    expect(ran).toBe(false);
  });

  it('lets the head of the outbox (first) through, and closes again if that one is refused', async () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    await outcome(admit(gate, socket, 'r', 'a', false, refused(rateLimited)));
    expect(await outcome(admit(gate, socket, 'r', 'b', true, refused(rateLimited)))).toBe('rate_limited {"retryAfterMs":200}');
    expect(await outcome(admit(gate, socket, 'r', 'c', false, stored('c')))).toBe('out_of_order {"expected":"b"}');
    expect(await outcome(admit(gate, socket, 'r', 'c', true, stored('c')))).toBe('c');
    expect(await outcome(admit(gate, socket, 'r', 'd', false, stored('d')))).toBe('d');
  });

  it('is per connection and per room', async () => {
    const gate = new SendOrderGate<object>();
    const tabA = {};
    const tabB = {};
    await outcome(admit(gate, tabA, 'r', 'a1', false, refused(rateLimited)));
    expect(await outcome(admit(gate, tabA, 'other', 'a2', false, stored('a2')))).toBe('a2');
    expect(await outcome(admit(gate, tabB, 'r', 'b1', false, stored('b1')))).toBe('b1');
    expect(await outcome(admit(gate, tabA, 'r', 'a3', false, stored('a3')))).toBe('out_of_order {"expected":"a1"}');
  });

  it('is not closed by a verdict on the message itself (it will never be stored, so it holds nothing up)', async () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    await outcome(admit(gate, socket, 'r', 'a', false, refused(new DomainError('invalid', 'text must be 1 to 4000 characters'))));
    await outcome(admit(gate, socket, 'r', 'b', false, refused(new DomainError('room_not_found', 'no room'))));
    expect(await outcome(admit(gate, socket, 'r', 'c', false, stored('c')))).toBe('c');
  });

  it('pipelined: a message asked after an earlier one was refused in the same transaction is refused too', () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    const [a, b, c] = ['a', 'b', 'c'].map((id) => gate.ticket(socket, 'r', id, false));
    expect(a!.take()).toBeUndefined();
    a!.refused(rateLimited);
    expect(b!.take()).toBe('a');
    expect(c!.take()).toBe('a');
    expect(gate.ticket(socket, 'r', 'a', false).take()).toBeUndefined();
    expect(gate.ticket(socket, 'r', 'b', false).take()).toBeUndefined();
  });

  it('pipelined: when a whole transaction fails, the first of its messages is owed, not the last', () => {
    const gate = new SendOrderGate<object>();
    const socket = {};
    const tickets = ['a', 'b', 'c'].map((id) => gate.ticket(socket, 'r', id, false));
    for (const t of tickets) expect(t.take()).toBeUndefined();
    for (const t of tickets) t.refused(new Error('disk I/O error'));
    expect(gate.ticket(socket, 'r', 'd', false).take()).toBe('a');
    expect(gate.ticket(socket, 'r', 'b', false).take()).toBe('a');
  });

  it('counts the rate limit and any failure that is not a verdict as resendable', () => {
    expect(willBeResent(rateLimited)).toBe(true);
    expect(willBeResent(new Error('connection refused'))).toBe(true);
    expect(willBeResent(new DomainError('invalid', 'x'))).toBe(false);
    expect(willBeResent(new DomainError('out_of_order', 'x'))).toBe(false);
  });
});
