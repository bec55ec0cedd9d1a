/** The part of `navigator.locks` the election uses; specs hand in a fake. */
export interface LockManagerLike {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void> | void): Promise<unknown>;
}

/**
 * One tab of the browser at a time is the leader: the one holding the Web Lock `name`. The others
 * wait in line for it; when the leader's tab goes (the browser releases its locks) or closes the
 * election, the next one in line is elected.
 */
export class LeaderElection {
  #release: (() => void) | null = null;
  readonly #abort = new AbortController();
  #closed = false;

  /** Queues for the lock at once; `onElected` runs when this tab gets it (maybe never). */
  constructor(locks: LockManagerLike, name: string, onElected: () => void) {
    locks
      .request(name, { signal: this.#abort.signal }, () => {
        if (this.#closed) return;
        onElected();
        // Held until the tab goes (the browser releases it then) or `close()`.
        return new Promise<void>((resolve) => (this.#release = resolve));
      })
      .catch(() => {
        // Aborted by `close()` while waiting in line.
      });
  }

  /** Give the lock up (or leave the line): the next tab in line is elected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release?.();
    this.#release = null;
    this.#abort.abort();
  }
}
