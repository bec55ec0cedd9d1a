import { api, ApiError } from '../api';
import { readStreamData } from '../wire';
import { formatPosition, parsePosition, queryValue, type Position } from './position';
import { preciseNow } from '../clock';
import { Backoff, CONNECTION_EVENT_NAMES, LOAD_BACKOFF_BASE_MS, LOAD_BACKOFF_CAP_MS, STREAM_EVENT_NAMES } from '@rt/protocol';
import type { StreamSignal, StreamStatus, WireEvent } from './types';

/** Failed connects in a row before falling back to polling. */
const MAX_FAILED_CONNECTS = 3;
/** While polling, how often the EventSource is tried again. */
const BACKGROUND_RETRY_MS = 15_000;
/** Polling interval; a call that returns a full page is repeated at once. */
const POLL_INTERVAL_MS = 2_000;
/** At most this many events per poll (docs/protocol.md): a full page means more are waiting. */
const POLL_PAGE = 100;
/** A poll that failed is retried with backoff up to this. */
const POLL_RETRY_CAP_MS = 15_000;

export interface EventStreamCallbacks {
  /** Every event except `auth-expired`, in order; the position has been advanced already. */
  onEvent: (event: WireEvent) => void;
  onStatus: (status: StreamStatus) => void;
  /**
   * The session the stream was opened with expired (an `auth-expired` event, or a poll answered
   * 401). The stream has stopped: renew the session, then call `resume()`.
   */
  onAuthExpired: () => void;
  /** What the EventSource does, connection events included (measurement only; optional). */
  onSignal?: (signal: StreamSignal) => void;
}

type Mode = 'idle' | 'stream' | 'poll' | 'auth';

/** The part of a browser `EventSource` the stream uses; specs hand in a fake. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}

export interface EventStreamOptions {
  /** Opens an EventSource. Defaults to the browser's. */
  createSource?: (url: string) => EventSourceLike;
}

/**
 * One connection to `GET /api/events?topics=...` for a set of topics, from a position, kept up.
 *
 * An EventSource first. A connect that fails (an error before `open`, or the browser giving up
 * with `CLOSED`) is retried with a short backoff; after 3 in a row it polls
 * `GET /api/events/poll` every 2 s instead (at once again while a call returns a full page of
 * 100) and tries the EventSource again every 15 s in the background, back to it as soon as one
 * opens. A drop after `open` (every stream ends on a deploy) is reconnected by us, not left to
 * the browser's fixed `retry:` wait: in 0.5–1 s (packages/protocol/src/reconnect.ts), from the position
 * held, and at that pace for up to a minute while the server does not answer.
 *
 * It keeps the position in every topic (from each event's composite id), so a reopen by hand, a
 * poll or a resume after `auth-expired` continues exactly where the last event left off.
 */
export class EventStream {
  readonly #callbacks: EventStreamCallbacks;
  #topics: readonly string[] = [];
  #position: Position = new Map();
  #mode: Mode = 'idle';
  #status: StreamStatus = 'offline';

  readonly #createSource: (url: string) => EventSourceLike;
  #source: EventSourceLike | null = null;
  /** The current EventSource has fired `open` since its last `error`. */
  #opened = false;
  #failures = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Waits between connects: after a failed one the load backoff (full jitter from 1 s), and for a
   * minute after an open stream ended (every stream does on a deploy) the deploy pace, 0.5–1 s,
   * those failures not counted towards polling.
   */
  readonly #backoff = new Backoff({ baseMs: LOAD_BACKOFF_BASE_MS, capMs: LOAD_BACKOFF_CAP_MS });

  /** Bumped whenever polling stops or restarts, so the answer of an older poll is dropped. */
  #pollToken = 0;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waits after failed polls: full jitter from the poll interval up to 15 s. */
  readonly #pollBackoff = new Backoff({ baseMs: POLL_INTERVAL_MS, capMs: POLL_RETRY_CAP_MS });
  #backgroundTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(callbacks: EventStreamCallbacks, options: EventStreamOptions = {}) {
    this.#callbacks = callbacks;
    this.#createSource = options.createSource ?? ((url) => new EventSource(url));
    if (typeof window !== 'undefined') window.addEventListener('online', this.#onBrowserOnline);
  }

  get status(): StreamStatus {
    return this.#status;
  }

  /** A copy of the position in every topic of the stream. */
  get position(): Position {
    return new Map(this.#position);
  }

  get topics(): readonly string[] {
    return this.#topics;
  }

  /**
   * (Re)start with these topics from these positions (a topic without one starts at the current
   * end of its log). Keeps the failure count: a stream that had fallen back to polling polls the
   * new set at once and keeps trying the EventSource in the background.
   */
  start(topics: readonly string[], position: Position): void {
    this.#stopAll();
    this.#topics = [...topics];
    this.#position = new Map([...position].filter(([topic]) => topics.includes(topic)));
    if (this.#topics.length === 0) {
      this.#mode = 'idle';
      this.#setStatus('offline');
    } else if (this.#failures >= MAX_FAILED_CONNECTS) {
      this.#degrade();
    } else {
      this.#mode = 'stream';
      this.#connect();
    }
  }

  /** After `onAuthExpired`: carry on from the position held. No-op unless waiting for it. */
  resume(): void {
    if (this.#mode !== 'auth') return;
    if (this.#failures >= MAX_FAILED_CONNECTS) {
      this.#degrade();
    } else {
      this.#mode = 'stream';
      this.#connect();
    }
  }

  close(): void {
    this.#stopAll();
    this.#mode = 'idle';
    if (typeof window !== 'undefined') window.removeEventListener('online', this.#onBrowserOnline);
  }

  #setStatus(status: StreamStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#callbacks.onStatus(status);
    this.#signal({ type: 'status', at: preciseNow(), status });
  }

  #signal(signal: StreamSignal): void {
    try {
      this.#callbacks.onSignal?.(signal);
    } catch (err) {
      reportError(err);
    }
  }

  /** `topics=notifications,blog:3&lastEventId=notifications=12,blog:3=40` */
  #query(): string {
    const query = [`topics=${queryValue(this.#topics.join(','))}`];
    const last = formatPosition(this.#topics, this.#position);
    if (last) query.push(`lastEventId=${queryValue(last)}`);
    return query.join('&');
  }

  // --- EventSource ---------------------------------------------------------------------------

  #connect(): void {
    this.#closeSource();
    if (this.#mode === 'stream') this.#setStatus('connecting');
    const source = this.#createSource(`/api/events?${this.#query()}`);
    this.#source = source;
    this.#opened = false;

    // Every handler first checks that its source is still the current one, so a late event from
    // a replaced source cannot touch the position.
    source.addEventListener('open', () => {
      if (source !== this.#source) return;
      this.#opened = true;
      this.#failures = 0;
      this.#backoff.succeeded();
      this.#signal({ type: 'open', at: preciseNow() });
      if (this.#mode === 'poll') this.#stopPolling();
      this.#mode = 'stream';
      this.#setStatus('live');
    });
    source.addEventListener('error', () => {
      if (source !== this.#source) return;
      const wasOpen = this.#opened;
      this.#opened = false;
      if (wasOpen) this.#signal({ type: 'drop', at: preciseNow() });
      if (wasOpen) {
        // An open stream ended (a deploy drains every stream, a network drop looks the same).
        // We reconnect ourselves rather than leave it to the browser's fixed `retry:` wait: in
        // 0.5–1 s, spread so every tab does not come back in the same millisecond, from the
        // position we hold (the query's lastEventId), and keep trying at that pace for a while.
        this.#backoff.restarted();
        this.#closeSource();
        this.#setStatus('connecting');
        this.#scheduleReconnect(this.#backoff.next());
        return;
      }
      this.#closeSource();
      if (this.#mode === 'stream' && this.#backoff.restarting) {
        // Still coming back from a drop: the server may be restarting; not a sign SSE is blocked.
        this.#scheduleReconnect(this.#backoff.next());
        return;
      }
      // A failed connect, or the browser gave up (a non-200 answer, a wrong content type).
      this.#failures += 1;
      if (this.#mode === 'poll') {
        this.#scheduleBackgroundRetry();
      } else if (this.#failures >= MAX_FAILED_CONNECTS) {
        this.#degrade();
      } else {
        this.#scheduleReconnect(this.#backoff.next());
      }
    });
    for (const name of STREAM_EVENT_NAMES) {
      source.addEventListener(name, (event: MessageEvent<string>) => {
        if (source !== this.#source) return;
        const at = preciseNow();
        const data = readEvent(name, event.lastEventId, parseData(event.data));
        this.#signal({ type: 'event', at, id: event.lastEventId, event: name, data });
        this.#receive({ id: event.lastEventId, event: name, data });
      });
    }
    // No id and no topic: these never touch the position and only observers see them.
    for (const name of CONNECTION_EVENT_NAMES) {
      source.addEventListener(name, (event: MessageEvent<string>) => {
        if (source !== this.#source) return;
        this.#signal({ type: 'event', at: preciseNow(), id: '', event: name, data: parseData(event.data) });
      });
    }
  }

  #closeSource(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#source?.close();
    this.#source = null;
    this.#opened = false;
  }

  #scheduleReconnect(wait: number): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#mode === 'stream') this.#connect();
    }, wait);
  }

  /** The network came back: skip the rest of a wait. */
  #onBrowserOnline = (): void => {
    if (this.#mode === 'stream' && !this.#source && this.#reconnectTimer !== undefined) {
      this.#connect();
    } else if (this.#mode === 'poll' && this.#pollTimer !== undefined) {
      clearTimeout(this.#pollTimer);
      this.#pollTimer = undefined;
      void this.#poll(this.#pollToken);
    }
  };

  // --- Polling -------------------------------------------------------------------------------

  #degrade(): void {
    this.#closeSource();
    this.#mode = 'poll';
    this.#setStatus('degraded');
    this.#pollBackoff.succeeded();
    const token = ++this.#pollToken;
    void this.#poll(token);
    this.#scheduleBackgroundRetry();
  }

  #scheduleBackgroundRetry(): void {
    clearTimeout(this.#backgroundTimer);
    this.#backgroundTimer = setTimeout(() => {
      this.#backgroundTimer = undefined;
      // Polling goes on meanwhile; the first `open` stops it.
      if (this.#mode === 'poll') this.#connect();
    }, BACKGROUND_RETRY_MS);
  }

  async #poll(token: number): Promise<void> {
    this.#pollTimer = undefined;
    let answer: Awaited<ReturnType<typeof api.pollEvents>>;
    try {
      answer = await api.pollEvents(this.#query());
    } catch (err) {
      if (token !== this.#pollToken || this.#mode !== 'poll') return;
      if (err instanceof ApiError && err.status === 401) {
        this.#authExpired();
        return;
      }
      this.#setStatus('offline');
      this.#schedulePoll(token, this.#pollBackoff.next());
      return;
    }
    if (token !== this.#pollToken || this.#mode !== 'poll') return;
    this.#pollBackoff.succeeded();
    const events = Array.isArray(answer?.events) ? answer.events : [];
    for (const event of events) {
      if (typeof event?.id !== 'string' || typeof event.event !== 'string') continue;
      this.#receive({ id: event.id, event: event.event, data: readEvent(event.event, event.id, event.data) });
      // An `auth-expired` (or a handler that restarted the stream) ends this page.
      if (token !== this.#pollToken || this.#mode !== 'poll') return;
    }
    if (typeof answer?.lastEventId === 'string' && answer.lastEventId) {
      for (const [topic, seq] of parsePosition(answer.lastEventId)) {
        if (this.#topics.includes(topic)) this.#position.set(topic, seq);
      }
    }
    this.#setStatus('degraded');
    this.#schedulePoll(token, events.length >= POLL_PAGE ? 0 : POLL_INTERVAL_MS);
  }

  #schedulePoll(token: number, wait: number): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      if (token === this.#pollToken && this.#mode === 'poll') void this.#poll(token);
    }, wait);
  }

  #stopPolling(): void {
    this.#pollToken += 1;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    clearTimeout(this.#backgroundTimer);
    this.#backgroundTimer = undefined;
  }

  // --- Events --------------------------------------------------------------------------------

  #receive(event: WireEvent): void {
    if (event.event === 'auth-expired') {
      this.#authExpired();
      return;
    }
    if (event.id) {
      for (const [topic, seq] of parsePosition(event.id)) {
        if (!this.#topics.includes(topic)) continue;
        // A `reset` states where the stream goes on from, even backwards (a log from another
        // database); anything else only moves forward (a poll and a reopened stream may overlap).
        if (event.event === 'reset' || seq > (this.#position.get(topic) ?? -1)) this.#position.set(topic, seq);
      }
    }
    this.#callbacks.onEvent(event);
  }

  #authExpired(): void {
    if (this.#opened) this.#signal({ type: 'drop', at: preciseNow() });
    // Closed at once: left alone, the browser would reconnect with the expired cookie.
    this.#stopAll();
    this.#mode = 'auth';
    this.#setStatus('connecting');
    this.#callbacks.onAuthExpired();
  }

  #stopAll(): void {
    this.#closeSource();
    this.#stopPolling();
  }
}

/** A topic event's data as the app reads it (wire.ts), its notification id from the event's id. */
function readEvent(event: string, id: string, data: unknown): unknown {
  return readStreamData(event, data, (topic) => parsePosition(id).get(topic));
}

/** An event's data as JSON, or null when it is not JSON. */
function parseData(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}
