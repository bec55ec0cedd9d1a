import { parsePosition, type Position } from './position';
import { EventStream } from './stream';
import { preciseNow } from '../clock';
import type { ChannelMessage, ResetData, StreamSignal, StreamStatus, TopicEvent, WireEvent } from './types';

/** Held for its whole life by the tab that keeps this browser's one stream. */
const LOCK_NAME = 'rt-events-leader';
const CHANNEL_NAME = 'rt-events';
/** The server refuses more (400). */
const MAX_TOPICS = 10;
/** Followers announce their topics again this often, so a leader can forget tabs that died. */
const ANNOUNCE_INTERVAL_MS = 30_000;
/** A follower not heard from for this long is gone (hidden tabs' timers may run once a minute). */
const WANT_TTL_MS = 150_000;
/** A new leader keeps the old stream's topics this long, while the tabs announce theirs. */
const INHERIT_MS = 2_000;
/** Topic changes within this window make one reopen. */
const RESTART_DEBOUNCE_MS = 30;
/** A snapshot reload that failed is tried again after this. */
const RELOAD_RETRY_MS = 3_000;
/** A rewind not answered within this is asked for again (the leader may have gone). */
const REWIND_RETRY_MS = 10_000;
/** Recent events kept per topic, to catch up a subscriber whose snapshot is a little behind. */
const RECENT_PER_TOPIC = 200;
/** Two `auth-expired` in a row: the second resume waits at least this long after the first. */
const AUTH_SPACING_MS = 5_000;
/** The pseudo-tab whose wants are the old leader's stream (see `#becomeLeader`). */
const INHERITED = '(inherited)';

/** Sees what the leader tab's EventSource does (see `EventHub.observe`). */
export type StreamObserver = (signal: StreamSignal) => void;

/** Gets every event of its topic after its position, in order, once. */
export type EventHandler = (event: TopicEvent) => void;
/**
 * The stream could not resume the topic (a `reset` with a reason other than `ok`): events may
 * have been missed. Reload the snapshot and resolve with its position (`lastId`,
 * `lastEventId`); events that arrive meanwhile are held and the ones after it applied then.
 * A rejection is retried after 3 s.
 */
export type ResetHandler = () => Promise<number>;

export interface EventHubOptions {
  /**
   * The leader's stream ended with `auth-expired` (or a poll was refused with 401): renew the
   * session. Resolves whether it was renewed. Every tab is asked, since the one holding the
   * stream may be signed out (a public blog) while another is signed in.
   */
  onAuthExpired?: () => Promise<boolean>;
}

/** One event on its way to subscribers, with the stream generation it came from. */
interface Delivery {
  gen: number;
  event: TopicEvent;
}

interface Subscription {
  readonly topic: string;
  /** The last seq applied (or the snapshot's position). */
  position: number;
  readonly handler: EventHandler;
  readonly onReset: ResetHandler;
  closed: boolean;
  /** Set while the owner reloads its snapshot after a `reset`: events are held meanwhile. */
  reload: { buffer: Delivery[]; again: boolean; timer: ReturnType<typeof setTimeout> | undefined } | null;
  /**
   * Set while waiting for events this subscriber missed (its snapshot is older than the stream,
   * or the stream skipped ahead of it). `acceptGen`: the stream generation that restarted the
   * topic at or before `from`; gaps in its events are the log's own and are accepted.
   */
  catchUp: { from: number; acceptGen: number | null; timer: ReturnType<typeof setTimeout> } | null;
}

function newTabId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

/** `notifications` first (it is what a signed-in page cannot do without), then by name. */
function topicOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'notifications') return -1;
  if (b === 'notifications') return 1;
  return a < b ? -1 : 1;
}

/**
 * This browser's one event stream (docs/protocol.md, "Event streams"), shared by all its tabs.
 *
 * The tabs elect a leader with the Web Locks API: the tab holding `rt-events-leader` opens
 * `/api/events` for the union of the topics every tab wants (an `EventStream`: EventSource,
 * falling back to polling) and rebroadcasts every event on `BroadcastChannel('rt-events')`. The
 * others announce the topics they want, with the position they hold, and announce them again to
 * a new leader. When the leader's tab closes, the lock passes to another tab, which carries on
 * from the last position it saw: the server replays the rest, so nothing is lost.
 *
 * Every tab de-duplicates per subscriber by the topic's seq (the logs have no gaps), so replays,
 * overlapping polls and reopened streams never apply an event twice. A subscriber that finds
 * itself behind the stream (its snapshot predates events already broadcast) is caught up from
 * the events this tab has kept, or else asks the leader to reopen the topic from its position.
 *
 * Without Web Locks or BroadcastChannel each tab keeps its own stream.
 */
export class EventHub {
  #status = $state<StreamStatus>('connecting');
  #isLeader = $state(false);
  /** The id from the current EventSource's `hello` (leader only; null without an open one). */
  #connectionId = $state<string | null>(null);
  readonly #observers = new Set<StreamObserver>();

  readonly #tab = newTabId();
  readonly #onAuthExpired: (() => Promise<boolean>) | undefined;
  readonly #subs = new Set<Subscription>();
  #channel: BroadcastChannel | null = null;
  #closed = false;

  /** The latest stream generation seen (each reopen by a leader starts a new one). */
  #gen = 0;
  /** Where the current stream stands in each of its topics, as far as this tab has seen. */
  #streamPos: Position = new Map();
  /** Recent events per topic of the current stream. */
  readonly #recent = new Map<string, Delivery[]>();
  #announceTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  // Leader only.
  #stream: EventStream | null = null;
  /** Per tab: the topics it wants, each with the position it holds, and when it last said so. */
  readonly #wants = new Map<string, { topics: Record<string, number>; at: number }>();
  /** Topics to reopen from an earlier position than the stream's (asked by a tab that missed events). */
  readonly #rewinds = new Map<string, number>();
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #inheritTimer: ReturnType<typeof setTimeout> | undefined;
  #lastAuthAt = -Infinity;
  #releaseLock: (() => void) | null = null;
  readonly #lockAbort = new AbortController();

  constructor(options: EventHubOptions = {}) {
    this.#onAuthExpired = options.onAuthExpired;
    const shared = typeof BroadcastChannel === 'function' && typeof navigator.locks?.request === 'function';
    if (!shared) {
      this.#becomeLeader();
      return;
    }
    this.#channel = new BroadcastChannel(CHANNEL_NAME);
    this.#channel.addEventListener('message', this.#onMessage);
    window.addEventListener('pagehide', this.#onPageHide);
    window.addEventListener('pageshow', this.#onPageShow);
    navigator.locks
      .request(LOCK_NAME, { signal: this.#lockAbort.signal }, () => {
        if (this.#closed) return;
        this.#becomeLeader();
        // Held until the tab goes (the browser releases it then) or `close()`.
        return new Promise<void>((resolve) => (this.#releaseLock = resolve));
      })
      .catch(() => {
        // Aborted by `close()` while waiting in line.
      });
    this.#heartbeat = setInterval(this.#onHeartbeat, ANNOUNCE_INTERVAL_MS);
    // Tells a leader we are here, and gets its status back.
    this.#announce();
  }

  /** The stream's state, the same in every tab (the leader's). */
  get status(): StreamStatus {
    return this.#status;
  }

  /** Whether this tab holds the browser's stream. */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /**
   * The id of this tab's open EventSource, from its `hello` (for `GET /api/metrics/connections/:id`
   * and the SSE clock probe). Null in a tab that does not hold the stream, and while it is not open.
   */
  get connectionId(): string | null {
    return this.#connectionId;
  }

  /**
   * Watch the stream as it comes off the wire in this tab: every event (connection events such
   * as `hello`, `pong` and `probe` included), opens, drops and reopens. Only the leader tab has a
   * wire to watch; other tabs' observers hear nothing until this tab becomes the leader.
   */
  observe(observer: StreamObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  #onSignal = (signal: StreamSignal): void => {
    if (signal.type === 'event' && signal.event === 'hello') {
      const id = (signal.data as { connectionId?: unknown } | null)?.connectionId;
      this.#connectionId = typeof id === 'string' ? id : null;
    } else if (signal.type === 'drop' || signal.type === 'restart') {
      this.#connectionId = null;
    } else if (signal.type === 'status' && signal.status !== 'live') {
      // Polling, offline, or reconnecting: no EventSource to address.
      this.#connectionId = null;
    }
    for (const observer of this.#observers) {
      try {
        observer(signal);
      } catch (err) {
        reportError(err);
      }
    }
  };

  /**
   * Get the events of `topic` after `fromId` (the position of the snapshot the caller loaded:
   * `lastId` of `GET /api/notifications`, `lastEventId` of `GET /api/blogs/:id`). Returns the
   * unsubscribe function.
   */
  subscribe(topic: string, fromId: number, handler: EventHandler, onReset: ResetHandler): () => void {
    const sub: Subscription = {
      topic,
      position: Math.max(0, Math.floor(fromId) || 0),
      handler,
      onReset,
      closed: false,
      reload: null,
      catchUp: null,
    };
    this.#subs.add(sub);
    // Events this tab already passed on may be the ones the snapshot is missing.
    for (const delivery of this.#recent.get(topic) ?? []) this.#deliver(sub, delivery);
    this.#checkBehind(sub);
    this.#wantsChanged();
    return () => {
      if (sub.closed) return;
      sub.closed = true;
      this.#endCatchUp(sub);
      if (sub.reload) clearTimeout(sub.reload.timer);
      sub.reload = null;
      this.#subs.delete(sub);
      this.#wantsChanged();
    };
  }

  /** Stop for good (the page is going away). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs) {
      sub.closed = true;
      this.#endCatchUp(sub);
      if (sub.reload) clearTimeout(sub.reload.timer);
    }
    this.#subs.clear();
    clearTimeout(this.#announceTimer);
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#inheritTimer);
    clearInterval(this.#heartbeat);
    window.removeEventListener('pagehide', this.#onPageHide);
    window.removeEventListener('pageshow', this.#onPageShow);
    if (!this.#isLeader) this.#post({ type: 'bye', tab: this.#tab });
    this.#stream?.close();
    this.#stream = null;
    this.#observers.clear();
    this.#releaseLock?.();
    this.#lockAbort.abort();
    this.#channel?.close();
    this.#channel = null;
  }

  // --- Subscribers ---------------------------------------------------------------------------

  /** The topics this tab wants, each with the lowest position a subscriber of it holds. */
  #ownTopics(): Record<string, number> {
    const topics: Record<string, number> = {};
    for (const sub of this.#subs) topics[sub.topic] = Math.min(topics[sub.topic] ?? Infinity, sub.position);
    return topics;
  }

  #deliver(sub: Subscription, delivery: Delivery): void {
    if (sub.closed) return;
    if (sub.reload) {
      sub.reload.buffer.push(delivery);
      return;
    }
    const { seq } = delivery.event;
    if (seq <= sub.position) return; // seen already
    const accepted = sub.catchUp?.acceptGen != null && delivery.gen >= sub.catchUp.acceptGen;
    if (seq === sub.position + 1 || accepted) {
      if (accepted) this.#endCatchUp(sub);
      sub.position = seq;
      try {
        sub.handler(delivery.event);
      } catch (err) {
        reportError(err);
      }
      return;
    }
    // A gap: events between were not seen here. Drop this one; the rewound stream brings it again.
    if (!sub.catchUp) this.#requestRewind(sub);
  }

  /** Behind the stream with nothing here to fill the gap: ask for it. */
  #checkBehind(sub: Subscription): void {
    if (sub.closed || sub.reload || sub.catchUp) return;
    if ((this.#streamPos.get(sub.topic) ?? -1) > sub.position) this.#requestRewind(sub);
  }

  #requestRewind(sub: Subscription): void {
    this.#endCatchUp(sub);
    const timer = setTimeout(() => {
      // Still behind after a while (the leader went away, say): ask again.
      this.#endCatchUp(sub);
      this.#checkBehind(sub);
    }, REWIND_RETRY_MS);
    sub.catchUp = { from: sub.position, acceptGen: null, timer };
    if (this.#isLeader) this.#onRewind(sub.topic, sub.position);
    else this.#post({ type: 'rewind', tab: this.#tab, topic: sub.topic, from: sub.position });
  }

  #endCatchUp(sub: Subscription): void {
    if (sub.catchUp) clearTimeout(sub.catchUp.timer);
    sub.catchUp = null;
  }

  /** The owner reloads its snapshot; events are held until it has, then the newer ones applied. */
  #reload(sub: Subscription, lastId: number): void {
    if (sub.closed) return;
    this.#endCatchUp(sub);
    if (sub.reload) {
      sub.reload.again = true;
      return;
    }
    sub.position = lastId;
    const reload: NonNullable<Subscription['reload']> = { buffer: [], again: false, timer: undefined };
    sub.reload = reload;
    const run = (): void => {
      reload.timer = undefined;
      let pending: Promise<number>;
      try {
        pending = sub.onReset();
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (snapshot) => {
          if (sub.closed || sub.reload !== reload) return;
          if (reload.again) {
            // Another reset came in meanwhile: this snapshot may predate it.
            reload.again = false;
            run();
            return;
          }
          sub.reload = null;
          sub.position = Number.isFinite(snapshot) && snapshot >= 0 ? snapshot : lastId;
          for (const delivery of reload.buffer) this.#deliver(sub, delivery);
          this.#checkBehind(sub);
        },
        () => {
          if (sub.closed || sub.reload !== reload) return;
          reload.timer = setTimeout(run, RELOAD_RETRY_MS);
        },
      );
    };
    run();
  }

  // --- Events (every tab) --------------------------------------------------------------------

  /** One event from the stream: this tab's own (leader) or rebroadcast by the leader. */
  #dispatch(gen: number, wire: WireEvent): void {
    if (gen > this.#gen) this.#gen = gen;
    const position = parsePosition(wire.id);
    for (const [topic, seq] of position) this.#streamPos.set(topic, seq);

    if (wire.event === 'reset') {
      const topics = (wire.data as Partial<ResetData> | null)?.topics ?? {};
      for (const [topic, info] of Object.entries(topics)) {
        if (info?.reason === 'ok') continue;
        const lastId = typeof info?.lastId === 'number' ? info.lastId : (position.get(topic) ?? 0);
        this.#streamPos.set(topic, lastId);
        // What was kept may come from a log that is no more.
        this.#recent.delete(topic);
        for (const sub of [...this.#subs]) if (sub.topic === topic) this.#reload(sub, lastId);
      }
      return;
    }

    const data = wire.data && typeof wire.data === 'object' ? (wire.data as { topic?: unknown }) : null;
    const topic = typeof data?.topic === 'string' ? data.topic : position.size === 1 ? [...position.keys()][0] : undefined;
    const seq = topic === undefined ? undefined : position.get(topic);
    if (topic === undefined || seq === undefined) return;

    const delivery: Delivery = { gen, event: { topic, seq, event: wire.event, data: wire.data } };
    const recent = this.#recent.get(topic) ?? [];
    // Kept in seq order, once each: a rewound stream's replay is not kept again.
    if ((recent.at(-1)?.event.seq ?? -1) < seq) {
      recent.push(delivery);
      if (recent.length > RECENT_PER_TOPIC) recent.splice(0, recent.length - RECENT_PER_TOPIC);
      this.#recent.set(topic, recent);
    }

    for (const sub of [...this.#subs]) if (sub.topic === topic) this.#deliver(sub, delivery);
  }

  /** A leader (re)opened the stream: generation `gen` starts each topic after `start`. */
  #onStreamStart(gen: number, start: Position): void {
    if (gen > this.#gen) this.#gen = gen;
    this.#streamPos = new Map(start);
    for (const topic of [...this.#recent.keys()]) if (!start.has(topic)) this.#recent.delete(topic);
    for (const sub of this.#subs) {
      const from = start.get(sub.topic);
      if (sub.catchUp && sub.catchUp.acceptGen === null && from !== undefined && from <= sub.catchUp.from) {
        sub.catchUp.acceptGen = gen;
      }
    }
    // A topic that starts ahead of a subscriber (another tab asked for it from further on).
    for (const sub of this.#subs) this.#checkBehind(sub);
  }

  // --- Between tabs --------------------------------------------------------------------------

  #post(message: ChannelMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // Closed channel (the tab is going away): nothing to tell.
    }
  }

  /** The set of topics this tab wants may have changed: tell the leader (coalesced). */
  #wantsChanged(): void {
    if (this.#closed || this.#announceTimer !== undefined) return;
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = undefined;
      this.#announce();
    }, 0);
  }

  #announce(): void {
    if (this.#closed) return;
    const topics = this.#ownTopics();
    if (this.#isLeader) {
      this.#wants.set(this.#tab, { topics, at: Infinity });
      this.#scheduleRestart();
    } else {
      this.#post({ type: 'want', tab: this.#tab, topics });
    }
  }

  #onMessage = (event: MessageEvent<ChannelMessage>): void => {
    const message = event.data;
    if (this.#closed || !message || typeof message !== 'object' || message.tab === this.#tab) return;
    if (this.#isLeader) {
      switch (message.type) {
        case 'want':
          this.#wants.set(message.tab, { topics: message.topics, at: Date.now() });
          this.#scheduleRestart();
          this.#post({ type: 'status', tab: this.#tab, status: this.#status });
          if (this.#stream && this.#stream.topics.length > 0) {
            // Sent after every event so far, so it is never ahead of what the tabs have received.
            const position = Object.fromEntries(this.#stream.position);
            this.#post({ type: 'position', tab: this.#tab, gen: this.#gen, position });
          }
          break;
        case 'rewind':
          this.#onRewind(message.topic, message.from);
          break;
        case 'renewed':
          this.#stream?.resume();
          break;
        case 'bye':
          if (this.#wants.delete(message.tab)) this.#scheduleRestart();
          break;
        default:
          // Another leader's messages cannot happen (the lock is exclusive); an old one's may be late.
          break;
      }
      return;
    }
    switch (message.type) {
      case 'leader':
        this.#announce();
        for (const sub of this.#subs) {
          if (sub.catchUp) this.#post({ type: 'rewind', tab: this.#tab, topic: sub.topic, from: sub.catchUp.from });
        }
        break;
      case 'stream':
        this.#onStreamStart(message.gen, new Map(Object.entries(message.start)));
        break;
      case 'event':
        this.#dispatch(message.gen, message);
        break;
      case 'position':
        if (message.gen < this.#gen) break; // about a stream since replaced
        this.#gen = message.gen;
        for (const [topic, seq] of Object.entries(message.position)) this.#streamPos.set(topic, seq);
        for (const sub of this.#subs) this.#checkBehind(sub);
        break;
      case 'status':
        this.#status = message.status;
        break;
      case 'auth-expired':
        void this.#renewForLeader();
        break;
      default:
        break;
    }
  };

  async #renewForLeader(): Promise<void> {
    let renewed = false;
    try {
      renewed = (await this.#onAuthExpired?.()) ?? false;
    } catch {
      renewed = false;
    }
    if (renewed && !this.#closed) this.#post({ type: 'renewed', tab: this.#tab });
  }

  #onHeartbeat = (): void => {
    if (!this.#isLeader) {
      this.#announce();
      return;
    }
    const now = Date.now();
    let changed = false;
    for (const [tab, want] of this.#wants) {
      if (now - want.at > WANT_TTL_MS) changed = this.#wants.delete(tab) || changed;
    }
    if (changed) this.#scheduleRestart();
  };

  #onPageHide = (): void => {
    if (!this.#isLeader) this.#post({ type: 'bye', tab: this.#tab });
  };

  #onPageShow = (event: PageTransitionEvent): void => {
    if (event.persisted) this.#announce();
  };

  // --- Leader --------------------------------------------------------------------------------

  #becomeLeader(): void {
    if (this.#closed) return;
    this.#isLeader = true;
    this.#stream = new EventStream({
      onEvent: (wire) => {
        const gen = this.#gen;
        this.#post({ type: 'event', tab: this.#tab, gen, id: wire.id, event: wire.event, data: wire.data });
        this.#dispatch(gen, wire);
      },
      onStatus: (status) => {
        this.#status = status;
        this.#post({ type: 'status', tab: this.#tab, status });
      },
      onAuthExpired: this.#onStreamAuthExpired,
      onSignal: this.#onSignal,
    });
    this.#status = this.#stream.status;
    this.#post({ type: 'status', tab: this.#tab, status: this.#status });
    // Carry the old leader's stream on, from where this tab saw it, until the tabs have said
    // what they want: a topic only a closed tab wanted is dropped then.
    if (this.#streamPos.size > 0) {
      this.#wants.set(INHERITED, { topics: Object.fromEntries(this.#streamPos), at: Infinity });
      this.#inheritTimer = setTimeout(() => {
        this.#wants.delete(INHERITED);
        this.#scheduleRestart();
      }, INHERIT_MS);
    }
    this.#post({ type: 'leader', tab: this.#tab });
    this.#announce();
  }

  #onRewind(topic: string, from: number): void {
    const earlier = this.#rewinds.get(topic);
    this.#rewinds.set(topic, earlier === undefined ? from : Math.min(earlier, from));
    this.#scheduleRestart();
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
    const stream = this.#stream;
    if (this.#closed || !stream) return;

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

    // A topic the stream carries goes on from where it is; a new one from the lowest position a
    // tab wanting it holds; a rewound one from where the tab that asked stands.
    const held = stream.position;
    const start: Position = new Map();
    for (const topic of topics) {
      let from = current.includes(topic) && held.has(topic) ? held.get(topic)! : wanted.get(topic)!;
      for (const [rewound, at] of rewinds) if (rewound === topic) from = Math.min(from, at);
      start.set(topic, from);
    }
    const gen = ++this.#gen;
    this.#post({ type: 'stream', tab: this.#tab, gen, start: Object.fromEntries(start) });
    this.#onStreamStart(gen, start);
    this.#onSignal({ type: 'restart', at: preciseNow(), start: Object.fromEntries(start) });
    stream.start(topics, start);
  }

  #onStreamAuthExpired = (): void => {
    this.#post({ type: 'auth-expired', tab: this.#tab });
    const now = Date.now();
    const earliest = this.#lastAuthAt + AUTH_SPACING_MS;
    this.#lastAuthAt = now;
    let renewing: Promise<boolean>;
    try {
      renewing = this.#onAuthExpired?.() ?? Promise.resolve(false);
    } catch {
      renewing = Promise.resolve(false);
    }
    // Renewed or not, go on from the last id: if this tab could not renew (signed out), another
    // may have, and a tab signed out for good stops wanting `notifications` (its feed closes).
    void renewing
      .catch(() => false)
      .then(() => {
        setTimeout(() => this.#stream?.resume(), Math.max(0, earliest - Date.now()));
      });
  };
}
