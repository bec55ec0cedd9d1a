import { parsePosition, type Position } from './position';
import type { ResetData } from '@rt/protocol';
import type { TopicEvent, WireEvent } from './types';

/** A snapshot reload that failed is tried again after this. */
const RELOAD_RETRY_MS = 3_000;
/** A rewind not answered within this is asked for again (the leader may have gone). */
const REWIND_RETRY_MS = 10_000;
/** Recent events kept per topic, to catch up a subscriber whose snapshot is a little behind. */
const RECENT_PER_TOPIC = 200;

/** Gets every event of its topic after its position, in order, once. */
export type EventHandler = (event: TopicEvent) => void;
/**
 * The stream could not resume the topic (a `reset` with a reason other than `ok`): events may
 * have been missed. Reload the snapshot and resolve with its position (`lastId`,
 * `lastEventId`); events that arrive meanwhile are held and the ones after it applied then.
 * A rejection is retried after 3 s.
 */
export type ResetHandler = () => Promise<number>;

export interface TopicSubscribersHooks {
  /** A subscriber missed events of `topic` after `from`: have the stream reopen the topic there. */
  rewind(topic: string, from: number): void;
  /** The topics wanted in this tab (or the positions they start from) may have changed. */
  wantsChanged(): void;
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

/**
 * The subscribers of one tab and what they get, whichever tab holds the stream: every event of
 * its topic after its position, in order, once (de-duplicated by the topic's seq; the logs have no
 * gaps), so replays, overlapping polls and reopened streams never apply an event twice.
 *
 * A subscriber that finds itself behind the stream (its snapshot predates events already passed
 * on) is caught up from the events kept here, or else asks for a rewind (`hooks.rewind`). After a
 * `reset` it reloads its snapshot while the events that come meanwhile are held.
 */
export class TopicSubscribers {
  readonly #hooks: TopicSubscribersHooks;
  readonly #subs = new Set<Subscription>();
  /** The latest stream generation seen (each reopen by a leader starts a new one). */
  #gen = 0;
  /** Where the current stream stands in each of its topics, as far as this tab has seen. */
  #streamPos: Position = new Map();
  /** Recent events per topic of the current stream. */
  readonly #recent = new Map<string, Delivery[]>();

  constructor(hooks: TopicSubscribersHooks) {
    this.#hooks = hooks;
  }

  /** The latest stream generation seen. */
  get gen(): number {
    return this.#gen;
  }

  /** Where the current stream stands in each topic, as far as this tab has seen (a copy). */
  get streamPosition(): Position {
    return new Map(this.#streamPos);
  }

  /** See `EventHub.subscribe`. */
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
    this.#hooks.wantsChanged();
    return () => {
      if (sub.closed) return;
      this.#end(sub);
      this.#subs.delete(sub);
      this.#hooks.wantsChanged();
    };
  }

  /** The topics this tab wants, each with the lowest position a subscriber of it holds. */
  ownTopics(): Record<string, number> {
    const topics: Record<string, number> = {};
    for (const sub of this.#subs) topics[sub.topic] = Math.min(topics[sub.topic] ?? Infinity, sub.position);
    return topics;
  }

  /** The rewinds this tab waits for (asked again of a new leader). */
  waitingRewinds(): { topic: string; from: number }[] {
    return [...this.#subs].flatMap((sub) => (sub.catchUp ? [{ topic: sub.topic, from: sub.catchUp.from }] : []));
  }

  /** One event from the stream: this tab's own (leader) or rebroadcast by the leader. */
  dispatch(gen: number, wire: WireEvent): void {
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
  streamStarted(gen: number, start: Position): void {
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

  /** The leader says where generation `gen` of the stream stands now (an answer to a `want`). */
  streamAt(gen: number, position: Record<string, number>): void {
    if (gen < this.#gen) return; // about a stream since replaced
    this.#gen = gen;
    for (const [topic, seq] of Object.entries(position)) this.#streamPos.set(topic, seq);
    for (const sub of this.#subs) this.#checkBehind(sub);
  }

  close(): void {
    for (const sub of this.#subs) this.#end(sub);
    this.#subs.clear();
  }

  #end(sub: Subscription): void {
    sub.closed = true;
    this.#endCatchUp(sub);
    if (sub.reload) clearTimeout(sub.reload.timer);
    sub.reload = null;
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
    this.#hooks.rewind(sub.topic, sub.position);
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
}
