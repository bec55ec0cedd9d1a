import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventStream, type EventSourceLike } from './stream';
import type { StreamStatus, WireEvent } from './types';

/** An EventSource the spec drives: `open()`, `fail()`, `event()`. */
class FakeSource implements EventSourceLike {
  readonly url: string;
  closed = false;
  readonly #listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();

  constructor(url: string) {
    this.url = url;
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
  }

  #fire(type: string, event: Partial<MessageEvent<string>> = {}): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event as MessageEvent<string>);
  }

  open(): void {
    this.#fire('open');
  }

  fail(): void {
    this.#fire('error');
  }

  event(name: string, id: string, data: unknown): void {
    this.#fire(name, { lastEventId: id, data: JSON.stringify(data) });
  }
}

let sources: FakeSource[];
let statuses: StreamStatus[];
let events: WireEvent[];
let stream: EventStream;

const current = () => sources.at(-1)!;

/** How long after now the next EventSource is opened. */
function waitForNextSource(): number {
  const before = sources.length;
  const started = Date.now();
  while (sources.length === before) vi.advanceTimersByTime(1);
  return Date.now() - started;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
  // Polling, once it starts, waits on an answer that never comes.
  vi.stubGlobal('fetch', () => new Promise(() => {}));
  sources = [];
  statuses = [];
  events = [];
  stream = new EventStream(
    { onEvent: (event) => events.push(event), onStatus: (status) => statuses.push(status), onAuthExpired: () => {} },
    { createSource: (url) => (sources.push(new FakeSource(url)), current()) },
  );
  stream.start(['notifications'], new Map([['notifications', 3]]));
});
afterEach(() => {
  stream.close();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('EventStream reconnects', () => {
  it('retries a failed connect with the backoff (full jitter from 1 s), then falls back to polling after 3', () => {
    current().fail();
    expect(waitForNextSource()).toBe(500);
    current().fail();
    expect(waitForNextSource()).toBe(1000);
    current().fail();
    expect(statuses.at(-1)).toBe('degraded');
  });

  it('after an open stream ends, reconnects on the deploy pace (0.5 s + 0–0.5 s) from the position held, never falling back to polling within a minute', () => {
    current().open();
    current().event('notification', 'notifications=4', ['notifications', 'mention', Date.now(), 'Hi', 'there']);
    expect(events.map((e) => e.id)).toEqual(['notifications=4']);
    current().fail();
    const waits = [waitForNextSource()];
    for (let i = 0; i < 5; i++) {
      current().fail(); // the server is not back yet
      waits.push(waitForNextSource());
    }
    expect(waits).toEqual([750, 750, 750, 750, 750, 750]);
    expect(statuses).not.toContain('degraded');
    expect(decodeURIComponent(current().url)).toContain('lastEventId=notifications=4');
  });

  it('counts failed connects again once the deploy window is over, the backoff started over by the open', () => {
    current().fail();
    waitForNextSource();
    current().fail();
    waitForNextSource();
    current().open();
    current().fail();
    const started = Date.now();
    while (Date.now() - started < 60_000) {
      waitForNextSource();
      current().fail();
    }
    // Outside the window: the load backoff, and polling after the third failure.
    expect(waitForNextSource()).toBe(500);
    current().fail();
    waitForNextSource();
    current().fail();
    expect(statuses.at(-1)).toBe('degraded');
  });
});
