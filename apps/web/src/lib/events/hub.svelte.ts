import { LeaderElection, type LockManagerLike } from './election';
import { StreamOwner, type StreamOwnerOptions } from './stream-owner';
import { TopicSubscribers, type EventHandler, type ResetHandler } from './subscribers';
import { TabChannel, type BroadcastChannelLike } from './tab-channel';
import type { ChannelMessage, StreamSignal, StreamStatus } from './types';

export type { EventHandler, ResetHandler } from './subscribers';

/** Held for its whole life by the tab that keeps this browser's one stream. */
const LOCK_NAME = 'rt-events-leader';
const CHANNEL_NAME = 'rt-events';
/** Followers announce their topics again this often, so a leader can forget tabs that died. */
export const ANNOUNCE_INTERVAL_MS = 30_000;

/** Sees what the leader tab's EventSource does (see `EventHub.observe`). */
export type StreamObserver = (signal: StreamSignal) => void;

export interface EventHubOptions {
  /**
   * The leader's stream ended with `auth-expired` (or a poll was refused with 401): renew the
   * session. Resolves whether it was renewed. Every tab is asked, since the one holding the
   * stream may be signed out (a public blog) while another is signed in.
   */
  onAuthExpired?: () => Promise<boolean>;
  /** The tabs' channel and lock manager. Default: `BroadcastChannel('rt-events')` and `navigator.locks`, if the browser has both. */
  shared?: { channel: BroadcastChannelLike; locks: LockManagerLike } | null;
  /** Opens the leader's stream. Default: a real `EventStream`. */
  createStream?: StreamOwnerOptions['createStream'];
}

function newTabId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

function browserShared(): EventHubOptions['shared'] {
  if (typeof BroadcastChannel !== 'function' || typeof navigator === 'undefined' || typeof navigator.locks?.request !== 'function') return null;
  return { channel: new BroadcastChannel(CHANNEL_NAME), locks: navigator.locks };
}

/**
 * This browser's one event stream (docs/protocol.md, "Event streams"), shared by all its tabs,
 * composed of one class per role:
 * - `LeaderElection` (election.ts): the tab holding the Web Lock `rt-events-leader` leads; when
 *   its tab closes, the lock passes to another tab;
 * - `StreamOwner` (stream-owner.ts), the leader's role: it opens `/api/events` for the union of
 *   the topics every tab wants (an `EventStream`: EventSource, falling back to polling) and relays
 *   every event; a new leader carries on from the last position it saw, and the server replays
 *   the rest, so nothing is lost;
 * - `TabChannel` (tab-channel.ts), the relay between tabs on `BroadcastChannel('rt-events')`:
 *   followers announce the topics they want with the position they hold (again to a new leader,
 *   and every 30 s), and get the leader's events, stream starts, positions and status;
 * - `TopicSubscribers` (subscribers.ts), in every tab: each subscriber gets its topic's events in
 *   order, once, caught up (or rewound) when it is behind, reloaded after a `reset`.
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
  readonly #createStream: EventHubOptions['createStream'];
  readonly #subscribers = new TopicSubscribers({
    rewind: (topic, from) => {
      if (this.#owner) this.#owner.rewind(topic, from);
      else this.#post({ type: 'rewind', tab: this.#tab, topic, from });
    },
    wantsChanged: () => this.#wantsChanged(),
  });
  #channel: TabChannel | null = null;
  #election: LeaderElection | null = null;
  /** Set while this tab leads. */
  #owner: StreamOwner | null = null;
  #closed = false;
  #announceTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(options: EventHubOptions = {}) {
    this.#onAuthExpired = options.onAuthExpired;
    this.#createStream = options.createStream;
    const shared = options.shared === undefined ? browserShared() : options.shared;
    if (!shared) {
      this.#becomeLeader();
      return;
    }
    this.#channel = new TabChannel(shared.channel, this.#tab, this.#onMessage);
    if (typeof window !== 'undefined') {
      window.addEventListener('pagehide', this.#onPageHide);
      window.addEventListener('pageshow', this.#onPageShow);
    }
    this.#election = new LeaderElection(shared.locks, LOCK_NAME, () => this.#becomeLeader());
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

  /**
   * Get the events of `topic` after `fromId` (the position of the snapshot the caller loaded:
   * `lastId` of `GET /api/notifications`, `lastEventId` of `GET /api/blogs/:id`). Returns the
   * unsubscribe function.
   */
  subscribe(topic: string, fromId: number, handler: EventHandler, onReset: ResetHandler): () => void {
    return this.#subscribers.subscribe(topic, fromId, handler, onReset);
  }

  /** Stop for good (the page is going away). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.close();
    clearTimeout(this.#announceTimer);
    clearInterval(this.#heartbeat);
    if (typeof window !== 'undefined') {
      window.removeEventListener('pagehide', this.#onPageHide);
      window.removeEventListener('pageshow', this.#onPageShow);
    }
    if (!this.#isLeader) this.#post({ type: 'bye', tab: this.#tab });
    this.#owner?.close();
    this.#owner = null;
    this.#observers.clear();
    this.#election?.close();
    this.#channel?.close();
    this.#channel = null;
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

  #post(message: ChannelMessage): void {
    this.#channel?.post(message);
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
    const topics = this.#subscribers.ownTopics();
    if (this.#owner) this.#owner.want(this.#tab, topics, Infinity);
    else this.#post({ type: 'want', tab: this.#tab, topics });
  }

  /** A message from another tab: the leader's role takes the followers'; a follower, the leader's. */
  #onMessage = (message: ChannelMessage): void => {
    if (this.#closed) return;
    if (this.#owner) {
      this.#owner.onMessage(message);
      return;
    }
    switch (message.type) {
      case 'leader':
        this.#announce();
        for (const { topic, from } of this.#subscribers.waitingRewinds()) this.#post({ type: 'rewind', tab: this.#tab, topic, from });
        break;
      case 'stream':
        this.#subscribers.streamStarted(message.gen, new Map(Object.entries(message.start)));
        break;
      case 'event':
        this.#subscribers.dispatch(message.gen, message);
        break;
      case 'position':
        this.#subscribers.streamAt(message.gen, message.position);
        break;
      case 'status':
        this.#status = message.status;
        break;
      case 'auth-expired':
        void this.#renewForLeader();
        break;
      case 'want':
      case 'rewind':
      case 'renewed':
      case 'bye':
        break; // for the leader (handled by its StreamOwner above)
    }
  };

  async #renewForLeader(): Promise<void> {
    let renewed: boolean;
    try {
      renewed = (await this.#onAuthExpired?.()) ?? false;
    } catch {
      renewed = false;
    }
    if (renewed && !this.#closed) this.#post({ type: 'renewed', tab: this.#tab });
  }

  #onHeartbeat = (): void => {
    if (this.#owner) this.#owner.expire();
    else this.#announce();
  };

  #onPageHide = (): void => {
    if (!this.#isLeader) this.#post({ type: 'bye', tab: this.#tab });
  };

  #onPageShow = (event: PageTransitionEvent): void => {
    if (event.persisted) this.#announce();
  };

  #becomeLeader(): void {
    if (this.#closed) return;
    this.#isLeader = true;
    const subscribers = this.#subscribers;
    this.#owner = new StreamOwner(
      {
        post: (message) => this.#post(message),
        gen: () => subscribers.gen,
        event: (gen, wire) => subscribers.dispatch(gen, wire),
        streamStarted: (gen, start) => subscribers.streamStarted(gen, start),
        status: (status) => (this.#status = status),
        signal: this.#onSignal,
        renew: () => this.#onAuthExpired?.() ?? Promise.resolve(false),
      },
      // Carry the old leader's stream on, from where this tab saw it.
      { tab: this.#tab, inherited: subscribers.streamPosition, createStream: this.#createStream },
    );
    this.#announce();
  }
}
