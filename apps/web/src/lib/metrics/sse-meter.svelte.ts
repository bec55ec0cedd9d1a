import type { ProbeMessage, ResetData } from '@rt/protocol';
import { api } from '../api';
import { preciseNow } from '../clock';
import type { EventHub } from '../events/hub.svelte';
import { parsePosition } from '../events/position';
import type { StreamSignal } from '../events/types';
import { ClockProbeSchedule } from './clock-probe';
import type { TransportMeter } from './meter.svelte';
import type { ProbeSink } from './probe.svelte';

/**
 * Right after a reconnect, events closer together than this (and to the `open`) are taken for
 * the server's replay when they carry no creation time to tell.
 */
const REPLAY_BURST_MS = 100;

/** The creation time (epoch ms, server clock) an event's data carries, if any. */
function storedAt(data: unknown): number | null {
  if (!data || typeof data !== 'object') return null;
  const { editedAt, createdAt } = data as { editedAt?: unknown; createdAt?: unknown };
  const iso = typeof editedAt === 'string' ? editedAt : typeof createdAt === 'string' ? createdAt : null;
  const ms = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Feeds the SSE meter from the browser's event stream. Only the tab that holds the stream (the
 * hub's leader) sees it come off the wire; in other tabs this binding hears nothing and the
 * overlay says so.
 *
 * - clock: `POST /api/metrics/connections/:id/ping`, answered by `event: pong` on the stream
 *   itself (a burst of 8 when it opens, then every 5 s);
 * - latency and rate: every event as the EventSource delivers it (polled ones are not SSE); the
 *   latency of `notification` and `update` from their `t` (stored), for events stored after the
 *   stream opened;
 * - gaps and duplicates: per topic, from each event's composite id, re-based when the hub reopens
 *   the stream (its start positions) and on `reset`;
 * - replayed (approximate): after a reconnect, the events before the first live one. An event is
 *   replayed if its `createdAt`/`editedAt` (server clock) is before the reconnect opened (our
 *   clock + offset); one without such a field (`notification-read`, `update-deleted`) if it
 *   arrives within 100 ms of the open or of the previous replayed one. The first event that is
 *   not ends the count.
 */
export class SseMeterBinding {
  readonly #meter: TransportMeter;
  readonly #onProbe: ProbeSink;
  readonly #pings: ClockProbeSchedule;
  readonly #stop: () => void;
  #pingId = 0;
  /** Set after a reconnect until the first live event. */
  #replay: { openedAt: number; lastAt: number } | null = null;
  /** When the current EventSource opened (our clock); null while none is open. */
  #openedAt: number | null = null;

  constructor(hub: EventHub, meter: TransportMeter, onProbe: ProbeSink) {
    this.#meter = meter;
    this.#onProbe = onProbe;
    this.#pings = new ClockProbeSchedule(() => void this.#ping());
    this.#stop = hub.observe(this.#onSignal);
    // The stream may have opened before the meter existed (it does not wait for sign-in).
    if (hub.isLeader && hub.connectionId) {
      this.#openedAt = preciseNow();
      meter.opened(this.#openedAt);
      meter.connectionId = hub.connectionId;
      this.#pings.start();
    } else if (hub.isLeader) {
      meter.state = hub.status === 'degraded' ? 'polling' : hub.status === 'offline' ? 'closed' : 'connecting';
    }
  }

  close(): void {
    this.#stop();
    this.#pings.stop();
  }

  async #ping(): Promise<void> {
    const connectionId = this.#meter.connectionId;
    if (!connectionId) return;
    const id = ++this.#pingId;
    try {
      await api.pingStream(connectionId, { id, t: preciseNow() });
    } catch (err) {
      if (this.#meter.clock === null) {
        this.#meter.offsetNote = `n/a (SSE ping failed: ${err instanceof Error ? err.message : String(err)})`;
      }
    }
  }

  #onSignal = (signal: StreamSignal): void => {
    const meter = this.#meter;
    switch (signal.type) {
      case 'status':
        if (signal.status === 'degraded') meter.state = 'polling';
        else if (signal.status === 'offline') meter.state = 'closed';
        else if (signal.status === 'connecting') meter.state = meter.dropped ? 'reconnecting' : 'connecting';
        break;
      case 'open':
        this.#openedAt = signal.at;
        this.#replay = meter.opened(signal.at) ? { openedAt: signal.at, lastAt: signal.at } : null;
        break;
      case 'drop':
        meter.disconnected(signal.at);
        this.#openedAt = null;
        this.#replay = null;
        this.#pings.stop();
        break;
      case 'restart':
        // Reopened by hand (topics changed, or a tab asked for a rewind): not a failure, but the
        // topics start where the hub says, maybe earlier than what was seen (a rewind).
        meter.connectionId = null;
        this.#pings.stop();
        for (const [topic, seq] of Object.entries(signal.start)) meter.rebase(topic, seq);
        break;
      case 'event':
        this.#onEvent(signal.id, signal.event, signal.data, signal.at);
        break;
    }
  };

  #onEvent(id: string, event: string, data: unknown, at: number): void {
    const meter = this.#meter;
    const fields = data && typeof data === 'object' ? (data as Record<string, unknown>) : {};
    switch (event) {
      case 'hello':
        meter.connectionId = typeof fields.connectionId === 'string' ? fields.connectionId : null;
        if (meter.connectionId) this.#pings.start();
        return;
      case 'pong':
        if (typeof fields.t === 'number' && typeof fields.serverTime === 'number') meter.clockSample(fields.t, fields.serverTime, at);
        return;
      case 'probe': {
        const latency = meter.received(at, fields.sentAt, true);
        if (typeof fields.run === 'string' && typeof fields.n === 'number') this.#onProbe(fields as unknown as ProbeMessage, at, latency);
        return;
      }
      case 'reset': {
        // The stream goes on from the positions in its id; a topic not resumed is reloaded by its owner.
        for (const [topic, seq] of parsePosition(id)) meter.rebase(topic, seq);
        const topics = (fields as Partial<ResetData>).topics ?? {};
        for (const [topic, info] of Object.entries(topics)) {
          if (typeof info?.lastId === 'number') meter.rebase(topic, info.lastId);
        }
        return;
      }
      default:
        break;
    }

    // Latency from `t`, when the event was stored: only for events stored after the stream
    // opened (anything older is a replay, whose latency says nothing about delivery).
    const t = typeof fields.t === 'number' ? fields.t : undefined;
    const offset = meter.clock?.offsetMs;
    const live = t !== undefined && offset !== undefined && this.#openedAt !== null && t >= this.#openedAt + offset;
    meter.received(at, live ? t : undefined);
    const position = parsePosition(id);
    const topic = typeof fields.topic === 'string' ? fields.topic : position.size === 1 ? [...position.keys()][0] : undefined;
    const seq = topic === undefined ? undefined : position.get(topic);
    if (topic !== undefined && seq !== undefined) meter.sequence(topic, seq);
    this.#classifyReplay(data, at);
  }

  #classifyReplay(data: unknown, at: number): void {
    const replay = this.#replay;
    if (!replay) return;
    const stored = storedAt(data);
    const offset = this.#meter.clock?.offsetMs;
    const replayed =
      stored !== null && offset !== undefined ? stored < replay.openedAt + offset : at - replay.lastAt <= REPLAY_BURST_MS;
    if (replayed) {
      this.#meter.countReplayed();
      replay.lastAt = at;
    } else {
      this.#replay = null;
    }
  }
}
