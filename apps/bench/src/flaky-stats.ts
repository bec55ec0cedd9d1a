/**
 * The bookkeeping of the flaky-network scenarios (`churn`, `storm`), apart from any socket so it
 * can be tested on its own: what one client received (each message's first arrival and how many
 * copies), on which connections, and what that adds up to against the messages the server
 * accepted. A message is identified by the publisher's number `n` (1, 2, ...), carried in its
 * payload with its creation time, so arrivals are matched to publishes across processes.
 */
import type { DeliveryCounts, LatencySummary, Published } from './protocol.js';
import { summarize } from './stats.js';

export type { Published };

/** How one client's deliveries went, over a whole run. */
export class Arrivals {
  /** First arrival of message n at index n, µs (0: none yet). */
  private first = new Float64Array(1024);
  private copies = new Uint8Array(1024);
  private highest = 0;
  outOfOrder = 0;
  /** Each connection's ready time (handshake done), µs, in order. */
  readonly connections: number[] = [];
  /** When the client's network came back before each reconnection, µs (the start of the attempt). */
  onlineAt = 0;

  private grow(n: number): void {
    let size = this.first.length;
    while (size <= n) size *= 2;
    const first = new Float64Array(size);
    first.set(this.first);
    const copies = new Uint8Array(size);
    copies.set(this.copies);
    this.first = first;
    this.copies = copies;
  }

  /** The connection that delivers from now on became ready at `at`. */
  connected(at: number): void {
    this.connections.push(at);
  }

  /**
   * Message `n`, created at `createdMicros`, arrived at `at`. Returns `replayed` when it is its
   * first copy and was created before the connection it came on was ready (so it cannot have
   * come live: it came from the server's replay or resume), with its two delays.
   */
  arrived(n: number, createdMicros: number, at: number): { first: boolean; replayed: boolean } {
    if (n >= this.first.length) this.grow(n);
    const count = this.copies[n]!;
    if (count < 255) this.copies[n] = count + 1;
    if (count > 0) return { first: false, replayed: false };
    this.first[n] = at;
    if (n < this.highest) this.outOfOrder++;
    else this.highest = n;
    const ready = this.connections.at(-1) ?? 0;
    return { first: true, replayed: createdMicros < ready };
  }

  /** First arrival of `n`, µs, or 0. */
  firstArrival(n: number): number {
    return n < this.first.length ? this.first[n]! : 0;
  }

  copiesOf(n: number): number {
    return n < this.copies.length ? this.copies[n]! : 0;
  }

  /** Every message number received at least once, ascending. */
  *received(): Generator<number> {
    for (let n = 1; n < this.copies.length; n++) if (this.copies[n]! > 0) yield n;
  }

  /** The first connection ready at or after `t`, µs, or undefined. */
  readyAfter(t: number): number | undefined {
    return this.connections.find((c) => c >= t);
  }
}

export function countDeliveries(clients: Arrivals[], published: Published[]): DeliveryCounts {
  const accepted = published.filter((p) => p.accepted);
  const known = new Set(accepted.map((p) => p.n));
  // Added up over every client (and every accepted message it should have had).
  const tally = { exactlyOnce: 0, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, clientsComplete: 0 };
  for (const c of clients) {
    let complete = c.outOfOrder === 0;
    for (const p of accepted) {
      const copies = c.copiesOf(p.n);
      if (copies === 0) tally.lost++;
      else if (copies === 1) tally.exactlyOnce++;
      if (copies > 1) tally.duplicated += copies - 1;
      if (copies !== 1) complete = false;
    }
    for (const n of c.received()) if (!known.has(n)) tally.unexpected += c.copiesOf(n);
    tally.outOfOrder += c.outOfOrder;
    if (complete) tally.clientsComplete++;
  }
  return { clients: clients.length, accepted: accepted.length, expected: accepted.length * clients.length, ...tally };
}

/**
 * After a restart at `t0`: per client, when it was back (its first connection ready at or after
 * `t0`) and when it was caught up (back, and holding every accepted message created before it was
 * back: the last of those to arrive, or the moment it was back if they all came before),
 * milliseconds after `t0`; Infinity for a client never back or never caught up (one that lost a
 * message it should have had never is).
 */
export function recoveryTimes(clients: Arrivals[], published: Published[], t0: number): { back: number[]; caughtUp: number[] } {
  const accepted = published.filter((p) => p.accepted);
  const back: number[] = [];
  const caughtUp: number[] = [];
  for (const c of clients) {
    const ready = c.readyAfter(t0);
    if (ready === undefined) {
      back.push(Infinity);
      caughtUp.push(Infinity);
      continue;
    }
    back.push((ready - t0) / 1000);
    let last = ready;
    for (const p of accepted) {
      if (p.createdMicros >= ready) continue;
      const at = c.firstArrival(p.n);
      if (at === 0) {
        last = Infinity;
        break;
      }
      if (at > last) last = at;
    }
    caughtUp.push((last - t0) / 1000);
  }
  return { back, caughtUp };
}

/** The time by which a fraction `q` of the clients were there (nearest rank), Infinity if fewer ever were. */
export function timeToFraction(times: number[], q: number): number {
  if (times.length === 0) return NaN;
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Replay delays: from the message's creation, and from when the client's network came back (the part the server and protocol own). */
export class ReplayDelays {
  readonly fromPublish: number[] = [];
  readonly fromOnline: number[] = [];

  add(createdMicros: number, onlineAt: number, at: number): void {
    this.fromPublish.push((at - createdMicros) / 1000);
    this.fromOnline.push((at - Math.max(createdMicros, onlineAt)) / 1000);
  }

  summary(): { fromPublish: LatencySummary; fromOnline: LatencySummary } {
    return { fromPublish: summarize(this.fromPublish), fromOnline: summarize(this.fromOnline) };
  }
}

/** `@@<created µs>;<n>;` padded with `x` to `bytes`. */
export function flakyPayload(createdMicros: number, n: number, bytes: number): string {
  const head = `@@${createdMicros};${n};`;
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

/** The stamp in a delivered text (anything around it, an envelope, is skipped), or undefined. */
export function readStamp(text: string): { createdMicros: number; n: number } | undefined {
  const at = text.indexOf('@@');
  if (at < 0) return undefined;
  const t = text.indexOf(';', at);
  const e = text.indexOf(';', t + 1);
  if (t < 0 || e < 0) return undefined;
  const createdMicros = Number(text.slice(at + 2, t));
  const n = Number(text.slice(t + 1, e));
  return Number.isFinite(createdMicros) && Number.isInteger(n) && n > 0 ? { createdMicros, n } : undefined;
}
