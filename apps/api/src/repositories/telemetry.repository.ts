import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { ConnectionMetrics, Transport } from '@rt/protocol';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type { Transport };
export const TRANSPORTS: readonly Transport[] = ['ws', 'sse'];

/** Why a connection ended (a label of `rt_disconnects_total`). */
export type DisconnectReason = 'client' | 'shutdown' | 'slow_consumer' | 'session_expired' | 'heartbeat' | 'error';

interface Totals {
  messages: number;
  payload: number;
  replayed: number;
}

/** What a write's callback gets: an error when the bytes never reached the kernel. */
export type WriteCallback = (err?: Error | null) => void;

// A write the meter waits for, as one number in its ledger: bytes * 8 + flags.
const COVERED = 1; // the write carries the meter's callback, which settles it
const REPLAYED = 2;
const CONTROL = 4; // control bytes, not a message

/**
 * What we know about one open connection, and its meter: the connection's registry keeps this
 * object and writes through it, so counting a message costs no lookup.
 *
 * A message (or control frame) counts once its bytes are in the kernel, never when it is
 * merely handed to the socket: a reader that stops reading has its frames queued in the
 * server's memory, and when it is cut those were never sent. The common case costs nothing:
 * a write to a socket with nothing queued either completes at once (`writableLength` is 0
 * after it, so it is counted there) or is the one write in flight. Only a write behind others
 * carries a callback, and it is always the same function, the meter's `written`, made once per
 * connection (Node then batches its calls): the writes it settles wait in a FIFO of numbers,
 * in write order, as Node calls write callbacks in order. A write that completes means every
 * write before it did too; one that fails (the socket was destroyed) means the rest never left.
 * So figures only ever leave out, never add, bytes that did not reach the kernel: at most the
 * frame in flight when a socket is cut goes uncounted.
 */
export class ConnectionMeter {
  /** The connection's completed wire bytes (see {@link writtenBytes}) when we last counted them. */
  seen: number;
  messagesOut = 0;
  payloadBytesOut = 0;
  wireBytesOut = 0;
  /**
   * Wire bytes of what is not a message (SSE heartbeats, `retry:`, `hello`, clock `pong`s;
   * WebSocket protocol pings), measured on the socket around each write: per-message wire bytes
   * can then leave them out and say so.
   */
  controlBytesOut = 0;
  /**
   * Writes not yet known to have reached the kernel, oldest first from `head`. Made on the first
   * write that has to wait (an idle connection never needs one: 10,000 of them save 0.3 MiB).
   */
  private ledger: number[] | null = null;
  /** The write callback (see {@link written}), made when first needed, for the same reason. */
  private settleCallback?: WriteCallback;
  private head = 0;
  private ended = false;

  constructor(
    /** The id the client learns in its `hello`. */
    readonly id: string,
    /** Whose connection it is (null: an anonymous reader of a public stream). */
    readonly userId: number | null,
    readonly transport: Transport,
    readonly socket: Socket,
    private readonly totals: Totals,
  ) {
    // Everything handed to the socket so far (a handshake, a response head) is not ours.
    this.seen = socket.bytesWritten;
  }

  /** The write callback that settles this connection's queued writes (one per connection, not per write). */
  get written(): WriteCallback {
    return (this.settleCallback ??= (err) => this.settle(err));
  }

  private enqueue(entry: number): void {
    (this.ledger ??= []).push(entry);
  }

  /**
   * Before a message's (last) write to the meter's socket: the callback to give that write when
   * others are queued ahead of it, then the meter waits for it; otherwise undefined, and the
   * caller calls {@link wrote} once it has written. No allocation either way.
   */
  callbackFor(payloadBytes: number, replayed: boolean): WriteCallback | undefined {
    if (this.socket.writableLength === 0) return undefined;
    this.enqueue(payloadBytes * 8 + (replayed ? REPLAYED : 0) + COVERED);
    return this.written;
  }

  /** After a write that got no callback (see {@link callbackFor}): counted now if it went out at once. */
  wrote(payloadBytes: number, replayed: boolean): void {
    const entry = payloadBytes * 8 + (replayed ? REPLAYED : 0);
    if (this.socket.writableLength === 0 && !this.socket.destroyed) this.count(entry);
    else this.enqueue(entry); // the write in flight: settled by the next one (or when read)
  }

  /** For a write through a library that queues on its own (ws): it always carries the callback. */
  queued(payloadBytes: number, replayed: boolean): WriteCallback {
    this.enqueue(payloadBytes * 8 + (replayed ? REPLAYED : 0) + COVERED);
    return this.written;
  }

  /**
   * Runs `write` (a control frame, given the callback to pass on) and counts what it put on the
   * socket as control bytes, once they are written.
   */
  control(write: (done: WriteCallback | undefined) => void): void {
    const socket = this.socket;
    const before = socket.bytesWritten;
    const behind = socket.writableLength > 0;
    write(behind ? this.written : undefined);
    const bytes = Math.max(0, socket.bytesWritten - before) * 8 + CONTROL;
    if (behind) this.enqueue(bytes + COVERED);
    else if (socket.writableLength === 0 && !socket.destroyed) this.count(bytes);
    else this.enqueue(bytes);
  }

  /**
   * Wire bytes of the writes that have completed: what the socket reports written, less what
   * is still queued in it (Node counts queued bytes in `bytesWritten`).
   */
  writtenBytes(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  /** Counts the writes done by now but not yet settled by a callback (when the meter is read). */
  catchUp(): void {
    if (this.socket.writableLength !== 0 || this.socket.destroyed) return;
    // Nothing is queued: every write without a callback has completed.
    const ledger = this.ledger;
    if (!ledger) return;
    while (this.head < ledger.length && (ledger[this.head]! & COVERED) === 0) this.count(ledger[this.head++]!);
    this.compact();
  }

  /** The connection is gone: what is still waiting never reached the kernel, and is not counted. */
  end(): void {
    this.catchUp();
    this.ended = true;
    this.ledger = null;
    this.head = 0;
  }

  /** A write with the callback settled: it (and the uncovered writes before it) is done, or, on error, never was. */
  private settle(err?: Error | null): void {
    const ledger = this.ledger;
    if (this.ended || !ledger) return;
    while (this.head < ledger.length) {
      const entry = ledger[this.head++]!;
      if (!err) this.count(entry);
      if (entry & COVERED) break;
    }
    this.compact();
  }

  private compact(): void {
    const ledger = this.ledger;
    if (!ledger) return;
    if (this.head === ledger.length) {
      ledger.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > ledger.length) {
      ledger.splice(0, this.head);
      this.head = 0;
    }
  }

  private count(entry: number): void {
    const bytes = Math.floor(entry / 8);
    if (entry & CONTROL) {
      this.controlBytesOut += bytes;
      return;
    }
    this.messagesOut++;
    this.payloadBytesOut += bytes;
    this.totals.messages++;
    this.totals.payload += bytes;
    if (entry & REPLAYED) this.totals.replayed++;
  }
}

/** Per-transport totals, as `GET /api/metrics` reports them. */
export interface TransportStats {
  connections: number;
  connects: number;
  disconnects: Record<string, number>;
  resumes: number;
  eventsReplayed: number;
  messagesIn: number;
  messagesOut: number;
  payloadBytesOut: number;
  wireBytesOut: number;
  /** (wire - payload) / messages: framing, field names, chunked encoding, control frames (handshakes excluded). */
  overheadBytesPerMessage: number | null;
  slowConsumerCloses: number;
}

/** One connection's own counters (the overlay compares them for the user's own traffic). */
/** `GET /api/metrics/connections/:id` (the wire shape lives in @rt/protocol). */
export type ConnectionStats = ConnectionMetrics;

/**
 * Every measurement of the transports, in one place. Wire bytes come from the TCP socket itself:
 * the growth of its completed writes (`socket.bytesWritten` less what is still queued in the
 * socket) from the moment the connection is tracked (after the WebSocket 101 answer or the SSE
 * response head), sampled at every scrape and at close. Messages, payload and control bytes are
 * counted as their writes complete (see {@link ConnectionMeter}), so none of them includes what
 * was queued for a reader that was cut before it took it. Payload bytes are the application's JSON (the
 * WebSocket frame's text, the SSE event's `data`). Exported with prom-client at `/metrics` and as
 * JSON at `/api/metrics`.
 */
@Injectable()
export class TelemetryRepository implements OnModuleDestroy {
  readonly registry = new Registry();
  /** Open connections' meters by connection id (one map entry per connection: each costs heap at 10k). */
  private readonly byId = new Map<string, ConnectionMeter>();
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  private readonly connections = new Gauge({ name: 'rt_connections', help: 'Open connections', labelNames: ['transport'], registers: [this.registry] });
  private readonly connects = new Counter({ name: 'rt_connects_total', help: 'Connections opened', labelNames: ['transport'], registers: [this.registry] });
  private readonly disconnects = new Counter({ name: 'rt_disconnects_total', help: 'Connections closed, by reason', labelNames: ['transport', 'reason'], registers: [this.registry] });
  private readonly resumes = new Counter({ name: 'rt_resumes_total', help: 'Connections that resumed from a position (WebSocket join with afterSeq, SSE Last-Event-ID)', labelNames: ['transport'], registers: [this.registry] });
  /**
   * Per-message totals are plain numbers on the hot path (a prom-client `inc` per delivery cost
   * more than the rest of our per-recipient work together, found with the benchmark's
   * profile); the counters read them when scraped.
   */
  private readonly totals: Record<Transport, Totals> = { ws: { messages: 0, payload: 0, replayed: 0 }, sse: { messages: 0, payload: 0, replayed: 0 } };
  private readonly messagesIn = new Counter({ name: 'rt_messages_in_total', help: 'Messages received from clients', labelNames: ['transport'], registers: [this.registry] });
  private readonly wireBytesOut = new Counter({
    name: 'rt_wire_bytes_out_total',
    help: 'Bytes written to the TCP sockets, handshakes and headers included',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  private readonly slowCloses = new Counter({ name: 'rt_slow_consumer_closes_total', help: 'Readers disconnected for falling behind', labelNames: ['transport'], registers: [this.registry] });

  // Label children resolved once: no label hashing when wire bytes are sampled.
  private readonly wire = Object.fromEntries(TRANSPORTS.map((t) => [t, this.wireBytesOut.labels(t)])) as Record<Transport, Counter.Internal>;
  // The same for what every connect and disconnect counts (a connection storm is many of them).
  private readonly opens = Object.fromEntries(TRANSPORTS.map((t) => [t, { connects: this.connects.labels(t), connections: this.connections.labels(t) }])) as Record<
    Transport,
    { connects: Counter.Internal; connections: ReturnType<Gauge["labels"]> }
  >;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.totalsCounter('rt_events_replayed_total', 'Events sent from the durable log rather than live', 'replayed');
    this.totalsCounter('rt_messages_out_total', 'Messages (frames, events) sent to clients', 'messages');
    this.totalsCounter('rt_payload_bytes_out_total', 'Application payload bytes sent (the JSON)', 'payload');
    this.loopDelay.enable();
    new Gauge({
      name: 'rt_event_loop_delay_seconds',
      help: 'Event loop delay percentiles since start (perf_hooks.monitorEventLoopDelay)',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect: () => {
        const g = this.registry.getSingleMetric('rt_event_loop_delay_seconds') as Gauge;
        g.set({ quantile: '0.5' }, this.loopDelay.percentile(50) / 1e9);
        g.set({ quantile: '0.99' }, this.loopDelay.percentile(99) / 1e9);
      },
    });
    for (const t of TRANSPORTS) {
      this.connections.set({ transport: t }, 0);
      for (const c of [this.connects, this.resumes, this.messagesIn, this.wireBytesOut, this.slowCloses]) c.inc({ transport: t }, 0);
    }
  }

  onModuleDestroy(): void {
    this.loopDelay.disable();
  }

  /** A connection opened on `socket`; call before anything is written to it. */
  opened(transport: Transport, socket: Socket, owner: { id: string; userId: number | null }): ConnectionMeter {
    const meter = new ConnectionMeter(owner.id, owner.userId, transport, socket, this.totals[transport]);
    this.byId.set(owner.id, meter);
    this.opens[transport].connects.inc();
    this.opens[transport].connections.inc();
    return meter;
  }

  /** The connection ended; its last written bytes are counted now. */
  closed(t: ConnectionMeter | undefined, reason: DisconnectReason): void {
    if (!t || this.byId.get(t.id) !== t) return;
    this.sample(t);
    t.end();
    this.byId.delete(t.id);
    this.opens[t.transport].connections.dec();
    this.disconnects.inc({ transport: t.transport, reason });
    if (reason === 'slow_consumer') this.slowCloses.inc({ transport: t.transport });
  }

  received(transport: Transport): void {
    this.messagesIn.inc({ transport });
  }

  resumed(transport: Transport): void {
    this.resumes.inc({ transport });
  }

  /** An open connection's own counters by its id, for its owner only; wire bytes sampled now. */
  connectionStats(id: string, userId: number): ConnectionStats | undefined {
    const t = this.byId.get(id);
    if (!t || t.userId !== userId) return undefined;
    this.sample(t);
    return { transport: t.transport, messagesOut: t.messagesOut, payloadBytesOut: t.payloadBytesOut, wireBytesOut: t.wireBytesOut, controlBytesOut: t.controlBytesOut };
  }

  /** Prometheus text format, with the wire bytes of open connections sampled first. */
  async prometheus(): Promise<string> {
    this.sampleAll();
    return this.registry.metrics();
  }

  /** The JSON view: `{ws, sse, process}`. */
  async snapshot(): Promise<{ ws: TransportStats; sse: TransportStats; process: Record<string, number> }> {
    this.sampleAll();
    const values = async (name: string) => (await this.registry.getSingleMetric(name)!.get()).values;
    const by = async (name: string, transport: Transport) =>
      (await values(name)).filter((v) => v.labels.transport === transport).reduce((sum, v) => sum + v.value, 0);
    const stats = async (transport: Transport): Promise<TransportStats> => {
      const disconnects: Record<string, number> = {};
      for (const v of await values('rt_disconnects_total')) if (v.labels.transport === transport) disconnects[String(v.labels.reason)] = v.value;
      const messagesOut = await by('rt_messages_out_total', transport);
      const payloadBytesOut = await by('rt_payload_bytes_out_total', transport);
      const wireBytesOut = await by('rt_wire_bytes_out_total', transport);
      return {
        connections: await by('rt_connections', transport),
        connects: await by('rt_connects_total', transport),
        disconnects,
        resumes: await by('rt_resumes_total', transport),
        eventsReplayed: await by('rt_events_replayed_total', transport),
        messagesIn: await by('rt_messages_in_total', transport),
        messagesOut,
        payloadBytesOut,
        wireBytesOut,
        overheadBytesPerMessage: messagesOut ? (wireBytesOut - payloadBytesOut) / messagesOut : null,
        slowConsumerCloses: await by('rt_slow_consumer_closes_total', transport),
      };
    };
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return {
      ws: await stats('ws'),
      sse: await stats('sse'),
      process: {
        cpuUserSeconds: cpu.user / 1e6,
        cpuSystemSeconds: cpu.system / 1e6,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        eventLoopDelayP50Ms: this.loopDelay.percentile(50) / 1e6,
        eventLoopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
        uptimeSeconds: process.uptime(),
      },
    };
  }

  /** A counter per transport whose values are the plain totals, read at scrape time. */
  private totalsCounter(name: string, help: string, field: 'messages' | 'payload' | 'replayed'): Counter {
    const totals = this.totals;
    const counter: Counter = new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers: [this.registry],
      collect() {
        counter.reset();
        for (const t of TRANSPORTS) counter.inc({ transport: t }, totals[t][field]);
      },
    });
    return counter;
  }

  private sampleAll(): void {
    for (const t of this.byId.values()) this.sample(t);
  }

  private sample(t: ConnectionMeter): void {
    t.catchUp();
    const now = t.writtenBytes();
    const delta = now - t.seen;
    if (delta <= 0) return;
    t.seen = now;
    t.wireBytesOut += delta;
    this.wire[t.transport].inc(delta);
  }
}
