import type { ProbeMessage } from '@rt/protocol';
import type { ChatConnection, ChatSignal } from '../chat.svelte';
import { ClockProbeSchedule } from './clock-probe';
import type { TransportMeter } from './meter.svelte';
import type { ProbeSink } from './probe.svelte';

/**
 * Feeds the WebSocket's meter from the chat connection's signals:
 * - clock: `ping`/`pong` on the socket itself (a burst of 8 on open, then every 5 s; the chat's
 *   own 20 s heartbeat pongs count too);
 * - latency and rate: every live `message` (from `t`, when it was stored) and every `probe` frame
 *   (`sentAt`; probe samples are counted as such in the window); a room's history, from its
 *   `join` to its `joined`, counts for the rate but not the latency (it was stored long before);
 *   rate counts every frame but `pong` and the probe's CPU-phase burst (`probe-cpu`), which is
 *   left out of every live figure;
 * - gaps and duplicates: per room `seq`, re-based on every `join` (to its `afterSeq`);
 * - replayed: `message` frames of a room between a re-join (`join` with `afterSeq`) and its `joined`;
 * - boards: every entry (`board-entry`) counts for the rate; its latency from `t` once the board
 *   is live (not between `board-picture`/`board-resume` and `board-joined`); gaps and duplicates
 *   per `board:ID`, re-based at the picture or the resume, as on the SSE side, so both columns
 *   measure the same entries when the board is watched over both.
 */
export class WsMeterBinding {
  readonly #chat: ChatConnection;
  readonly #meter: TransportMeter;
  readonly #onProbe: ProbeSink;
  readonly #pings: ClockProbeSchedule;
  readonly #stop: () => void;
  /** Rooms re-joined on this socket whose `joined` has not come yet. */
  readonly #replaying = new Set<string>();
  /** Rooms joined on this socket whose `joined` has not come yet: their messages are history. */
  readonly #loading = new Set<string>();
  /** Boards (by room name) whose `board-joined` has not come yet: their entries are a replay. */
  readonly #boardsLoading = new Set<string>();
  /** Boards re-joined with `after` whose `board-joined` has not come yet: their entries are replayed. */
  readonly #boardsResuming = new Set<string>();
  /** Board room names by id, from their picture or resume (entries name the room by id). */
  readonly #boardIds = new Map<number, string>();

  constructor(chat: ChatConnection, meter: TransportMeter, onProbe: ProbeSink) {
    this.#chat = chat;
    this.#meter = meter;
    this.#onProbe = onProbe;
    this.#pings = new ClockProbeSchedule(() => void this.#chat.socket.ping());
    this.#meter.state = chat.socket.status === 'online' ? 'open' : 'connecting';
    this.#meter.connectionId = chat.socket.connectionId;
    this.#stop = chat.socket.observe(this.#onSignal);
    if (chat.socket.status === 'online') this.#pings.start();
  }

  close(): void {
    this.#stop();
    this.#pings.stop();
  }

  #onSignal = (signal: ChatSignal): void => {
    const meter = this.#meter;
    switch (signal.type) {
      case 'open':
        meter.opened(signal.at);
        this.#pings.start();
        break;
      case 'close':
        meter.disconnected(signal.at);
        this.#replaying.clear();
        this.#loading.clear();
        this.#boardsLoading.clear();
        this.#boardsResuming.clear();
        this.#pings.stop();
        break;
      case 'join':
        meter.rebase(signal.room, signal.afterSeq);
        this.#loading.add(signal.room);
        if (signal.afterSeq !== undefined) this.#replaying.add(signal.room);
        else this.#replaying.delete(signal.room);
        break;
      case 'frame':
        this.#onFrame(signal.event, signal.data, signal.at);
        break;
    }
  };

  #onFrame(event: string, data: Record<string, unknown>, at: number): void {
    const meter = this.#meter;
    switch (event) {
      case 'pong':
        if (typeof data.t === 'number' && typeof data.serverTime === 'number') meter.clockSample(data.t, data.serverTime, at);
        return; // measurement traffic, not a message
      case 'hello':
        meter.connectionId = typeof data.connectionId === 'string' ? data.connectionId : null;
        return;
      case 'message': {
        const { room, seq } = data;
        meter.received(at, typeof room === 'string' && this.#loading.has(room) ? undefined : data.t);
        if (typeof room !== 'string' || typeof seq !== 'number') return;
        meter.sequence(room, seq);
        if (this.#replaying.has(room)) meter.countReplayed();
        return;
      }
      case 'joined':
        meter.received(at);
        if (typeof data.room === 'string') {
          this.#replaying.delete(data.room);
          this.#loading.delete(data.room);
        }
        return;
      case 'board-picture':
      case 'board-resume':
        meter.received(at);
        if (typeof data.room === 'string' && typeof data.id === 'number' && typeof data.seq === 'number') {
          this.#boardsLoading.add(data.room);
          this.#boardIds.set(data.id, data.room);
          meter.rebase(`board:${data.id}`, data.seq);
          if (event === 'board-resume') this.#boardsResuming.add(data.room);
        }
        return;
      case 'board-joined':
        meter.received(at);
        if (typeof data.room === 'string') {
          this.#boardsLoading.delete(data.room);
          this.#boardsResuming.delete(data.room);
        }
        return;
      case 'board-entry': {
        const entry = data.entry;
        if (!Array.isArray(entry) || typeof entry[1] !== 'number' || typeof entry[2] !== 'number') return;
        const room = this.#boardIds.get(entry[1]);
        const live = room !== undefined && !this.#boardsLoading.has(room);
        meter.received(at, live ? entry[4] : undefined);
        meter.sequence(`board:${entry[1]}`, entry[2]);
        if (room !== undefined && this.#boardsResuming.has(room)) meter.countReplayed();
        return;
      }
      case 'probe-cpu':
        // The probe's CPU phase: a burst sent as fast as the server can, to time its CPU. Its
        // queueing latencies say nothing about delivery; kept out of the live figures.
        return;
      case 'probe': {
        const latency = meter.received(at, data.sentAt, true);
        if (typeof data.run === 'string' && typeof data.n === 'number') this.#onProbe(data as unknown as ProbeMessage, at, latency);
        return;
      }
      default:
        meter.received(at, data.sentAt);
    }
  }
}
