import { Backoff, LOAD_BACKOFF_BASE_MS, LOAD_BACKOFF_CAP_MS } from '@rt/protocol';

/**
 * Retries a snapshot load that failed (the notifications page, a live blog) after the load
 * backoff's next wait: one retry waiting at a time, none once stopped.
 */
export class LoadRetry {
  readonly #backoff = new Backoff({ baseMs: LOAD_BACKOFF_BASE_MS, capMs: LOAD_BACKOFF_CAP_MS });
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** Run `run` after the next wait, in place of a retry already waiting. Does nothing once stopped. */
  schedule(run: () => void): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) run();
    }, this.#backoff.next());
  }

  /** A load worked: the next failure waits the shortest time again. */
  succeeded(): void {
    this.#backoff.succeeded();
  }

  /** Cancel the retry waiting, and any later one. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
