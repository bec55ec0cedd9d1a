// Hand-written stand-ins for what the tabs of one browser share (BroadcastChannel, Web Locks) and
// for the leader's EventStream, for the unit specs of the event hub's roles.
import type { LockManagerLike } from '../events/election';
import type { Position } from '../events/position';
import type { EventStreamCallbacks } from '../events/stream';
import type { StreamLike } from '../events/stream-owner';
import type { BroadcastChannelLike } from '../events/tab-channel';
import type { StreamStatus } from '../events/types';

/** The channels of one browser: a message posted on one reaches every other, a task later (as in a browser). */
export class FakeBroadcastBus {
  readonly #channels = new Set<FakeChannel>();

  channel(): FakeChannel {
    const channel = new FakeChannel(this.#channels);
    this.#channels.add(channel);
    return channel;
  }
}

export class FakeChannel implements BroadcastChannelLike {
  readonly #all: Set<FakeChannel>;
  readonly #listeners: ((event: MessageEvent) => void)[] = [];
  closed = false;

  constructor(all: Set<FakeChannel>) {
    this.#all = all;
  }

  addEventListener(_type: 'message', listener: (event: MessageEvent) => void): void {
    this.#listeners.push(listener);
  }

  postMessage(message: unknown): void {
    if (this.closed) throw new Error('InvalidStateError: the channel is closed');
    const copy = structuredClone(message);
    for (const other of this.#all) {
      if (other === this) continue;
      setTimeout(() => {
        if (!other.closed) for (const listener of other.#listeners) listener({ data: copy } as MessageEvent);
      }, 0);
    }
  }

  close(): void {
    this.closed = true;
    this.#all.delete(this);
  }
}

/** `navigator.locks` for exclusive locks: granted in request order, released when the callback's promise settles. */
export class FakeLocks implements LockManagerLike {
  readonly #held = new Set<string>();
  readonly #queues = new Map<string, { callback: () => Promise<void> | void; resolve: (v: unknown) => void; reject: (e: unknown) => void }[]>();

  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void> | void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry = { callback, resolve, reject };
      const queue = this.#queues.get(name) ?? [];
      queue.push(entry);
      this.#queues.set(name, queue);
      options.signal.addEventListener('abort', () => {
        const at = queue.indexOf(entry);
        if (at === -1) return; // granted already: aborting does not release it
        queue.splice(at, 1);
        reject(new DOMException('aborted', 'AbortError'));
      });
      this.#grant(name);
    });
  }

  #grant(name: string): void {
    const queue = this.#queues.get(name) ?? [];
    if (this.#held.has(name) || queue.length === 0) return;
    const entry = queue.shift()!;
    this.#held.add(name);
    Promise.resolve(entry.callback()).then(
      (value) => {
        this.#held.delete(name);
        entry.resolve(value);
        this.#grant(name);
      },
      (err) => {
        this.#held.delete(name);
        entry.reject(err);
        this.#grant(name);
      },
    );
  }
}

/** The leader's stream without an EventSource: the spec says what comes off the wire. */
export class FakeStream implements StreamLike {
  status: StreamStatus = 'connecting';
  position: Position = new Map();
  topics: readonly string[] = [];
  /** Every `start`, in order. */
  readonly starts: { topics: readonly string[]; start: Record<string, number> }[] = [];
  resumes = 0;
  closed = false;
  readonly callbacks: EventStreamCallbacks;

  constructor(callbacks: EventStreamCallbacks) {
    this.callbacks = callbacks;
  }

  start(topics: readonly string[], position: Position): void {
    this.topics = [...topics];
    this.position = new Map(position);
    this.starts.push({ topics: [...topics], start: Object.fromEntries(position) });
  }

  resume(): void {
    this.resumes += 1;
  }

  close(): void {
    this.closed = true;
  }

  /** One event of `topic` at `seq` comes off the wire. */
  emit(topic: string, seq: number, event = 'notification', data: Record<string, unknown> = {}): void {
    this.position.set(topic, seq);
    this.callbacks.onEvent({ id: `${topic}=${seq}`, event, data: { topic, ...data } });
  }
}

/** Collects the streams a hub (or an owner) opens. */
export class FakeStreams {
  readonly all: FakeStream[] = [];
  readonly create = (callbacks: EventStreamCallbacks): FakeStream => {
    const stream = new FakeStream(callbacks);
    this.all.push(stream);
    return stream;
  };
}
