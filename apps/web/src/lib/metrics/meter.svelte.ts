import type { ConnectionMetrics } from '@rt/protocol';
import { preciseNow } from '../clock';
import { ClockEstimator, RateCounter, SampleWindow, SequenceTracker, type ClockSample, type Percentiles } from './stats';

export type Transport = 'ws' | 'sse';

/** What a meter says about its connection. */
export type MeterState = 'connecting' | 'open' | 'reconnecting' | 'polling' | 'closed';

/** Everything the overlay shows about one transport, copied out at render time. */
export interface MeterSnapshot {
  transport: Transport;
  /** A `MeterState`, or a note such as "live (another tab holds the stream)". */
  state: string;
  connectionId: string | null;
  /** Server clock minus ours, from the best (lowest-rtt) of the last 8 exchanges on this transport. */
  offsetMs: number | null;
  /** ±rtt/2 of that exchange. */
  uncertaintyMs: number | null;
  /** Why there is no offset, when there is none for a reason worth saying. */
  offsetNote: string | null;
  /** Over the window below; `count` samples, `probeCount` of them from the head-to-head probe. */
  latency: Percentiles & { probeCount: number };
  /** The latency window: the last `maxCount` samples, none older than `maxAgeMs`. */
  latencyWindow: { maxCount: number; maxAgeMs: number };
  /** Median latency of the last second (what the sparkline plots). */
  latencyRecent: number | null;
  /** Messages per second over the last 5 s. */
  rate: number;
  /** This connection's payload bytes per message (server counters). */
  payloadBytes: number | null;
  /**
   * This connection's wire bytes per message (server counters): the messages with their framing
   * (WebSocket frame headers; SSE `id:`/`event:`/`data:` lines and chunked encoding), control
   * bytes left out (heartbeats, protocol pings, `retry:`, `hello`, SSE clock pongs).
   */
  wireBytes: number | null;
  /** Control bytes on this connection so far (what `wireBytes` leaves out). */
  controlBytes: number | null;
  /** Messages the server counted on this connection (what the per-message figures divide by). */
  messagesOut: number | null;
  reconnects: number;
  /** Disconnect to next open, of the latest recovery. */
  recoverMs: number | null;
  /** Local clock of the latest recovery. */
  recoveredAt: number | null;
  replayed: number;
  gaps: number;
  duplicates: number;
  /** Messages counted in `rate` since the meter started. */
  received: number;
}

/**
 * The measurements of one transport (docs/protocol.md, "Metrics"), fed by a binding that watches
 * the connection (`WsMeterBinding`, `SseMeterBinding`). Plain fields on purpose: it is written on
 * every message whether or not anything is shown, and read by `snapshot()` when the overlay
 * renders (at most twice a second).
 */
export class TransportMeter {
  readonly transport: Transport;
  state: MeterState = 'connecting';
  connectionId: string | null = null;
  offsetNote: string | null = null;

  readonly #clock = new ClockEstimator(8);
  readonly #latency = new SampleWindow(200, 60_000);
  readonly #rate: RateCounter;
  readonly #sequences = new SequenceTracker();
  #received = 0;
  #payloadBytes: number | null = null;
  #wireBytes: number | null = null;
  #controlBytes: number | null = null;
  #messagesOut: number | null = null;

  #everOpen = false;
  /** Local clock of the disconnect we are recovering from; null while connected. */
  #droppedAt: number | null = null;
  #reconnects = 0;
  #recoverMs: number | null = null;
  #recoveredAt: number | null = null;
  #replayed = 0;

  constructor(transport: Transport) {
    this.transport = transport;
    this.#rate = new RateCounter(5_000, preciseNow());
  }

  /** The best clock sample, if any (its offset is what latencies are corrected by). */
  get clock(): ClockSample | null {
    return this.#clock.best;
  }

  get dropped(): boolean {
    return this.#droppedAt !== null;
  }

  /** The connection opened. Returns whether this was a recovery from a disconnect. */
  opened(at: number): boolean {
    this.state = 'open';
    const recovered = this.#droppedAt !== null;
    if (this.#droppedAt !== null) {
      this.#reconnects += 1;
      this.#recoverMs = at - this.#droppedAt;
      this.#recoveredAt = at;
      this.#droppedAt = null;
    }
    this.#everOpen = true;
    return recovered;
  }

  /** The connection was lost; the time to recover runs from the first loss until the next open. */
  disconnected(at: number): void {
    this.state = 'reconnecting';
    this.connectionId = null;
    if (this.#everOpen && this.#droppedAt === null) this.#droppedAt = at;
  }

  /** One ping/pong exchange on this transport. */
  clockSample(t: number, serverTime: number, at: number): void {
    if (this.#clock.add(t, serverTime, at)) this.offsetNote = null;
  }

  /** `receivedAt + offset − sentAt`, or null without an offset yet. */
  latencyOf(sentAt: number, receivedAt: number): number | null {
    const best = this.#clock.best;
    return best ? receivedAt + best.offsetMs - sentAt : null;
  }

  /**
   * One message received. With a `sentAt` (server clock) its latency joins the window; returns
   * that latency (null without `sentAt` or an offset).
   */
  received(at: number, sentAt?: unknown, probe = false): number | null {
    this.#received += 1;
    this.#rate.add(at);
    if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) return null;
    const latency = this.latencyOf(sentAt, at);
    if (latency !== null) this.#latency.add(latency, at, probe);
    return latency;
  }

  /** A sequenced message (room seq, topic position): counts gaps and duplicates. */
  sequence(key: string, seq: number): void {
    this.#sequences.see(key, seq);
  }

  rebase(key: string, seq: number | undefined): void {
    this.#sequences.rebase(key, seq);
  }

  countReplayed(n = 1): void {
    this.#replayed += n;
  }

  /** Per-connection counters from `GET /api/metrics/connections/:id`. */
  setBytes(metrics: ConnectionMetrics): void {
    const { messagesOut, payloadBytesOut, wireBytesOut, controlBytesOut } = metrics;
    if (typeof messagesOut !== 'number') return;
    const control = typeof controlBytesOut === 'number' ? controlBytesOut : 0;
    this.#messagesOut = messagesOut;
    this.#controlBytes = typeof controlBytesOut === 'number' ? controlBytesOut : null;
    if (messagesOut <= 0) return;
    this.#payloadBytes = typeof payloadBytesOut === 'number' ? payloadBytesOut / messagesOut : null;
    this.#wireBytes = typeof wireBytesOut === 'number' ? Math.max(0, wireBytesOut - control) / messagesOut : null;
  }

  snapshot(now: number): MeterSnapshot {
    const best = this.#clock.best;
    return {
      transport: this.transport,
      state: this.state,
      connectionId: this.connectionId,
      offsetMs: best?.offsetMs ?? null,
      uncertaintyMs: best ? best.rttMs / 2 : null,
      offsetNote: this.offsetNote,
      latency: this.#latency.percentiles(now),
      latencyWindow: { maxCount: this.#latency.maxCount, maxAgeMs: this.#latency.maxAgeMs },
      latencyRecent: this.#latency.recentMedian(now, 1_000),
      rate: this.#rate.rate(now),
      payloadBytes: this.#payloadBytes,
      wireBytes: this.#wireBytes,
      controlBytes: this.#controlBytes,
      messagesOut: this.#messagesOut,
      reconnects: this.#reconnects,
      recoverMs: this.#recoverMs,
      recoveredAt: this.#recoveredAt,
      replayed: this.#replayed,
      gaps: this.#sequences.gaps,
      duplicates: this.#sequences.duplicates,
      received: this.#received,
    };
  }
}
