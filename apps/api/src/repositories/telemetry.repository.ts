import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type Transport = 'ws' | 'sse';
export const TRANSPORTS: readonly Transport[] = ['ws', 'sse'];

/** Why a connection ended (a label of `rt_disconnects_total`). */
export type DisconnectReason = 'client' | 'shutdown' | 'slow_consumer' | 'session_expired' | 'heartbeat' | 'error';

interface Totals {
  messages: number;
  payload: number;
  replayed: number;
}

/**
 * What we know about one open connection, and its meter: the connection's registry keeps this
 * object and calls `sent` on it, so counting a message is two additions and no lookup.
 */
export class ConnectionMeter {
  /** `socket.bytesWritten` when we last counted it. */
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

  constructor(
    /** The id the client learns in its `hello`. */
    readonly id: string,
    /** Whose connection it is (null: an anonymous reader of a public stream). */
    readonly userId: number | null,
    readonly transport: Transport,
    readonly socket: Socket,
    private readonly totals: Totals,
  ) {
    this.seen = socket.bytesWritten;
  }

  /** One message written to the connection; `payloadBytes` is its application JSON. */
  sent(payloadBytes: number, replayed: boolean): void {
    this.messagesOut++;
    this.payloadBytesOut += payloadBytes;
    this.totals.messages++;
    this.totals.payload += payloadBytes;
    if (replayed) this.totals.replayed++;
  }

  /** Runs `write` (a control frame) and counts what it put on the socket as control bytes. */
  control(write: () => void): void {
    const before = this.socket.bytesWritten;
    write();
    this.controlBytesOut += Math.max(0, this.socket.bytesWritten - before);
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
  /** (wire - payload) / messages: framing, field names, chunked encoding; handshakes included. */
  overheadBytesPerMessage: number | null;
  slowConsumerCloses: number;
}

/** One connection's own counters (the overlay compares them for the user's own traffic). */
export interface ConnectionStats {
  transport: Transport;
  messagesOut: number;
  payloadBytesOut: number;
  wireBytesOut: number;
  /** The part of `wireBytesOut` that carried no message (heartbeats, pings, `retry:`, `hello`, SSE `pong`s). */
  controlBytesOut: number;
}

/**
 * Every measurement of the transports, in one place. Wire bytes come from the TCP socket itself:
 * the growth of `socket.bytesWritten` from the moment the connection is tracked (before the
 * WebSocket 101 answer or the SSE response head is written, so handshakes and headers are
 * counted), sampled at every scrape and at close. Payload bytes are the application's JSON (the
 * WebSocket frame's text, the SSE event's `data`). Exported with prom-client at `/metrics` and as
 * JSON at `/api/metrics`.
 */
@Injectable()
export class TelemetryRepository implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly tracked = new Map<object, ConnectionMeter>();
  private readonly byId = new Map<string, object>();
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
  opened(key: object, transport: Transport, socket: Socket, owner: { id: string; userId: number | null }): ConnectionMeter {
    const meter = new ConnectionMeter(owner.id, owner.userId, transport, socket, this.totals[transport]);
    this.tracked.set(key, meter);
    this.byId.set(owner.id, key);
    this.opens[transport].connects.inc();
    this.opens[transport].connections.inc();
    return meter;
  }

  /** The connection ended; its last written bytes are counted now. */
  closed(key: object, reason: DisconnectReason): void {
    const t = this.tracked.get(key);
    if (!t) return;
    this.sample(t);
    this.tracked.delete(key);
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
    const key = this.byId.get(id);
    const t = key && this.tracked.get(key);
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
    for (const t of this.tracked.values()) this.sample(t);
  }

  private sample(t: ConnectionMeter): void {
    const now = t.socket.bytesWritten;
    const delta = now - t.seen;
    if (delta <= 0) return;
    t.seen = now;
    t.wireBytesOut += delta;
    this.wire[t.transport].inc(delta);
  }
}
