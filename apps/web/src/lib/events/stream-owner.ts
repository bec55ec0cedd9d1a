import { MAX_TOPICS } from '@rt/protocol';
import { preciseNow } from '../clock';
import type { Position } from './position';
import { EventStream, type EventStreamCallbacks } from './stream';
import type { ChannelMessage, StreamSignal, StreamStatus, WireEvent } from './types';

/** A follower not heard from for this long is gone (hidden tabs' timers may run once a minute). */
export const WANT_TTL_MS = 150_000;
/** A new leader keeps the old stream's topics this long, while the tabs announce theirs. */
export const INHERIT_MS = 2_000;
/** Topic changes within this window make one reopen. */
export const RESTART_DEBOUNCE_MS = 30;
/** Two `auth-expired` in a row: the second resume waits at least this long after the first. */
const AUTH_SPACING_MS = 5_000;
/** The pseudo-tab whose wants are the old leader's stream. */
const INHERITED = '(inherited)';

/** The part of `EventStream` the owner drives; specs hand in a fake. */
export type StreamLike = Pick<EventStream, 'status' | 'position' | 'topics' | 'start' | 'resume' | 'close'>;

export interface StreamOwnerHooks {
  /** Tell the other tabs. */
  post(message: ChannelMessage): void;
  /** The latest stream generation this tab has seen. */
  gen(): number;
  /** One event off the wire, for this tab's own subscribers. */
  event(gen: number, wire: WireEvent): void;
  /** The stream was reopened: generation `gen` starts each topic after `start`. */
  streamStarted(gen: number, start: Position): void;
  status(status: StreamStatus): void;
  signal(signal: StreamSignal): void;
  /** The stream's session expired: renew it. Resolves whether it was renewed. */
  renew(): Promise<boolean>;
}

export interface StreamOwnerOptions {
  /** This tab's id (its messages carry it). */
  tab: string;
  /** Where the previous leader's stream stood, as this tab saw it: carried on for a moment. */
  inherited: Position;
  /** Defaults to a real `EventStream` (EventSource, falling back to polling). */
  createStream?: (callbacks: EventStreamCallbacks) => StreamLike;
}

/** `notifications` first (it is what a signed-in page cannot do without), then by name. */
function topicOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'notifications') return -1;
  if (b === 'notifications') return 1;
  return a < b ? -1 : 1;
}

/**
 * The leader tab's role: it holds the browser's one stream (an `EventStream`) for the union of
 * the topics every tab wants, and relays every event to the other tabs.
 *
 * A topic the stream carries goes on from where it is; a new one starts from the lowest position
 * a tab wanting it holds; a rewound one from where the tab that asked stands. Changes within
 * 30 ms make one reopen. A tab not heard from for 150 s is forgotten. A new leader carries the old
 * leader's topics on for 2 s, while the tabs announce theirs.
 */
export class StreamOwner {
  readonly #tab: string;
  readonly #hooks: StreamOwnerHooks;
  readonly #stream: StreamLike;
  /** Per tab: the topics it wants, each with the position it holds, and when it last said so. */
  readonly #wants = new Map<string, { topics: Record<string, number>; at: number }>();
  /** Topics to reopen from an earlier position than the stream's (asked by a tab that missed events). */
  readonly #rewinds = new Map<string, number>();
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #inheritTimer: ReturnType<typeof setTimeout> | undefined;
  #lastAuthAt = -Infinity;
  #closed = false;

  constructor(hooks: StreamOwnerHooks, options: StreamOwnerOptions) {
    this.#tab = options.tab;
    this.#hooks = hooks;
    const callbacks: EventStreamCallbacks = {
      onEvent: (wire) => {
        const gen = hooks.gen();
        hooks.post({ type: 'event', tab: this.#tab, gen, id: wire.id, event: wire.event, data: wire.data });
        hooks.event(gen, wire);
      },
      onStatus: (status) => {
        hooks.status(status);
        hooks.post({ type: 'status', tab: this.#tab, status });
      },
      onAuthExpired: this.#onAuthExpired,
      onSignal: (signal) => hooks.signal(signal),
    };
    this.#stream = options.createStream?.(callbacks) ?? new EventStream(callbacks);
    hooks.status(this.#stream.status);
    hooks.post({ type: 'status', tab: this.#tab, status: this.#stream.status });
    // Carry the old leader's stream on, from where this tab saw it, until the tabs have said
    // what they want: a topic only a closed tab wanted is dropped then.
    if (options.inherited.size > 0) {
      this.#wants.set(INHERITED, { topics: Object.fromEntries(options.inherited), at: Infinity });
      this.#inheritTimer = setTimeout(() => {
        this.#wants.delete(INHERITED);
        this.#scheduleRestart();
      }, INHERIT_MS);
    }
    hooks.post({ type: 'leader', tab: this.#tab });
  }

  get status(): StreamStatus {
    return this.#stream.status;
  }

  /** What a tab wants now (`at: Infinity` for this tab's own: it never expires). */
  want(tab: string, topics: Record<string, number>, at = Date.now()): void {
    this.#wants.set(tab, { topics, at });
    this.#scheduleRestart();
  }

  /** A subscriber (here or in another tab) missed events of `topic`: reopen it from `from`. */
  rewind(topic: string, from: number): void {
    const earlier = this.#rewinds.get(topic);
    this.#rewinds.set(topic, earlier === undefined ? from : Math.min(earlier, from));
    this.#scheduleRestart();
  }

  /** A message from a follower tab. */
  onMessage(message: ChannelMessage): void {
    switch (message.type) {
      case 'want':
        this.want(message.tab, message.topics);
        this.#hooks.post({ type: 'status', tab: this.#tab, status: this.#stream.status });
        if (this.#stream.topics.length > 0) {
          // Sent after every event so far, so it is never ahead of what the tabs have received.
          const position = Object.fromEntries(this.#stream.position);
          this.#hooks.post({ type: 'position', tab: this.#tab, gen: this.#hooks.gen(), position });
        }
        break;
      case 'rewind':
        this.rewind(message.topic, message.from);
        break;
      case 'renewed':
        this.#stream.resume();
        break;
      case 'bye':
        if (this.#wants.delete(message.tab)) this.#scheduleRestart();
        break;
      case 'leader':
      case 'stream':
      case 'event':
      case 'position':
      case 'status':
      case 'auth-expired':
        // Another leader's messages cannot happen (the lock is exclusive); an old one's may be late.
        break;
    }
  }

  /** Forget the tabs not heard from for `WANT_TTL_MS` (they died without a `bye`). */
  expire(now = Date.now()): void {
    let changed = false;
    for (const [tab, want] of this.#wants) {
      if (now - want.at > WANT_TTL_MS) changed = this.#wants.delete(tab) || changed;
    }
    if (changed) this.#scheduleRestart();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#inheritTimer);
    this.#stream.close();
  }

  #scheduleRestart(): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restart();
    }, RESTART_DEBOUNCE_MS);
  }

  /** Reopen the stream if the union of the wanted topics changed, or a tab asked for a rewind. */
  #restart(): void {
    if (this.#closed) return;
    const stream = this.#stream;
    const wanted = new Map<string, number>();
    for (const want of this.#wants.values()) {
      for (const [topic, from] of Object.entries(want.topics)) {
        if (typeof from === 'number') wanted.set(topic, Math.min(wanted.get(topic) ?? Infinity, from));
      }
    }
    const topics = [...wanted.keys()].sort(topicOrder).slice(0, MAX_TOPICS);
    const current = stream.topics;
    const rewinds = [...this.#rewinds].filter(([topic]) => topics.includes(topic));
    this.#rewinds.clear();
    if (rewinds.length === 0 && topics.length === current.length && topics.every((t, i) => t === current[i])) return;

    const held = stream.position;
    const start: Position = new Map();
    for (const topic of topics) {
      let from = current.includes(topic) && held.has(topic) ? held.get(topic)! : wanted.get(topic)!;
      for (const [rewound, at] of rewinds) if (rewound === topic) from = Math.min(from, at);
      start.set(topic, from);
    }
    const gen = this.#hooks.gen() + 1;
    this.#hooks.post({ type: 'stream', tab: this.#tab, gen, start: Object.fromEntries(start) });
    this.#hooks.streamStarted(gen, start);
    this.#hooks.signal({ type: 'restart', at: preciseNow(), start: Object.fromEntries(start) });
    stream.start(topics, start);
  }

  #onAuthExpired = (): void => {
    this.#hooks.post({ type: 'auth-expired', tab: this.#tab });
    const now = Date.now();
    const earliest = this.#lastAuthAt + AUTH_SPACING_MS;
    this.#lastAuthAt = now;
    let renewing: Promise<boolean>;
    try {
      renewing = this.#hooks.renew();
    } catch {
      renewing = Promise.resolve(false);
    }
    // Renewed or not, go on from the last id: if this tab could not renew (signed out), another
    // may have, and a tab signed out for good stops wanting `notifications` (its feed closes).
    void renewing
      .catch(() => false)
      .then(() => {
        setTimeout(() => {
          if (!this.#closed) this.#stream.resume();
        }, Math.max(0, earliest - Date.now()));
      });
  };
}
