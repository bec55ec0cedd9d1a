import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type Transport = 'ws' | 'sse';
export const TRANSPORTS: readonly Transport[] = ['ws', 'sse'];

/** Why a connection ended (a label of `rt_disconnects_total`). */
export type DisconnectReason = 'client' | 'shutdown' | 'slow_consumer' | 'session_expired' | 'heartbeat' | 'error';

/** What we know about one open connection. */
interface Tracked {
  /** The id the client learns in its `hello`. */
  id: string;
  /** Whose connection it is (null: an anonymous reader of a public stream). */
  userId: number | null;
  transport: Transport;
  socket: Socket;
  /** `socket.bytesWritten` when we last counted it. */
  seen: number;
  messagesOut: number;
  payloadBytesOut: number;
  wireBytesOut: number;
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
  private readonly tracked = new Map<object, Tracked>();
  private readonly byId = new Map<string, object>();
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  private readonly connections = new Gauge({ name: 'rt_connections', help: 'Open connections', labelNames: ['transport'], registers: [this.registry] });
  private readonly connects = new Counter({ name: 'rt_connects_total', help: 'Connections opened', labelNames: ['transport'], registers: [this.registry] });
  private readonly disconnects = new Counter({ name: 'rt_disconnects_total', help: 'Connections closed, by reason', labelNames: ['transport', 'reason'], registers: [this.registry] });
  private readonly resumes = new Counter({ name: 'rt_resumes_total', help: 'Connections that resumed from a position (WebSocket join with afterSeq, SSE Last-Event-ID)', labelNames: ['transport'], registers: [this.registry] });
  private readonly replayed = new Counter({ name: 'rt_events_replayed_total', help: 'Events sent from the durable log rather than live', labelNames: ['transport'], registers: [this.registry] });
  private readonly messagesIn = new Counter({ name: 'rt_messages_in_total', help: 'Messages received from clients', labelNames: ['transport'], registers: [this.registry] });
  private readonly messagesOut = new Counter({ name: 'rt_messages_out_total', help: 'Messages (frames, events) sent to clients', labelNames: ['transport'], registers: [this.registry] });
  private readonly payloadBytesOut = new Counter({ name: 'rt_payload_bytes_out_total', help: 'Application payload bytes sent (the JSON)', labelNames: ['transport'], registers: [this.registry] });
  private readonly wireBytesOut = new Counter({
    name: 'rt_wire_bytes_out_total',
    help: 'Bytes written to the TCP sockets, handshakes and headers included',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  private readonly slowCloses = new Counter({ name: 'rt_slow_consumer_closes_total', help: 'Readers disconnected for falling behind', labelNames: ['transport'], registers: [this.registry] });

  // Label children resolved once: no label hashing per message on the hot path.
  private readonly out = Object.fromEntries(
    TRANSPORTS.map((t) => [t, { messages: this.messagesOut.labels(t), payload: this.payloadBytesOut.labels(t), wire: this.wireBytesOut.labels(t) }]),
  ) as Record<Transport, { messages: Counter.Internal; payload: Counter.Internal; wire: Counter.Internal }>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
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
      for (const c of [this.connects, this.resumes, this.replayed, this.messagesIn, this.messagesOut, this.payloadBytesOut, this.wireBytesOut, this.slowCloses]) c.inc({ transport: t }, 0);
    }
  }

  onModuleDestroy(): void {
    this.loopDelay.disable();
  }

  /** A connection opened on `socket`; call before anything is written to it. */
  opened(key: object, transport: Transport, socket: Socket, owner: { id: string; userId: number | null }): void {
    this.tracked.set(key, { ...owner, transport, socket, seen: socket.bytesWritten, messagesOut: 0, payloadBytesOut: 0, wireBytesOut: 0 });
    this.byId.set(owner.id, key);
    this.connects.inc({ transport });
    this.connections.inc({ transport });
  }

  /** The connection ended; its last written bytes are counted now. */
  closed(key: object, reason: DisconnectReason): void {
    const t = this.tracked.get(key);
    if (!t) return;
    this.sample(t);
    this.tracked.delete(key);
    this.byId.delete(t.id);
    this.connections.dec({ transport: t.transport });
    this.disconnects.inc({ transport: t.transport, reason });
    if (reason === 'slow_consumer') this.slowCloses.inc({ transport: t.transport });
  }

  /** One message written to the connection; `payloadBytes` is its application JSON. */
  sent(key: object, payloadBytes: number, replayed: boolean): void {
    const t = this.tracked.get(key);
    if (!t) return;
    t.messagesOut++;
    t.payloadBytesOut += payloadBytes;
    const out = this.out[t.transport];
    out.messages.inc();
    out.payload.inc(payloadBytes);
    if (replayed) this.replayed.inc({ transport: t.transport });
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
    return { transport: t.transport, messagesOut: t.messagesOut, payloadBytesOut: t.payloadBytesOut, wireBytesOut: t.wireBytesOut };
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

  private sampleAll(): void {
    for (const t of this.tracked.values()) this.sample(t);
  }

  private sample(t: Tracked): void {
    const now = t.socket.bytesWritten;
    const delta = now - t.seen;
    if (delta <= 0) return;
    t.seen = now;
    t.wireBytesOut += delta;
    this.out[t.transport].wire.inc(delta);
  }
}
