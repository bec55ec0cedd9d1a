// How a client of this server reconnects and retries, in one place: the web app's chat socket,
// event stream (and its polling), chat outbox and snapshot loads all wait with `Backoff`; the
// metrics overlay quotes these constants when it says why one transport came back sooner; the
// benchmark's flaky-network clients (apps/bench/src/flaky.ts) come back the way the app does.
//
// One jitter formula everywhere, full jitter: the n-th wait in a row (n from 0) is uniform in
// [0, min(cap, base × 2^n)). What differs per use is only the base and the cap.

/** A lost WebSocket, and a chat message the server could not store yet. */
export const WS_BACKOFF_BASE_MS = 500;
export const WS_BACKOFF_CAP_MS = 10_000;

/** A REST snapshot that could not be loaded (notifications page, live blog), and a failed EventSource connect. */
export const LOAD_BACKOFF_BASE_MS = 1_000;
export const LOAD_BACKOFF_CAP_MS = 30_000;

/**
 * After a deploy (close 1012, or an event stream the server ended): retry every
 * `RESTART_RETRY_MS` plus a uniform 0 to `RESTART_JITTER_MS`, spread so a thousand clients do not
 * arrive in the same millisecond, for up to `RESTART_WINDOW_MS`; then the ordinary backoff. Every
 * client is live again within about 1 s of the server answering.
 */
export const RESTART_RETRY_MS = 500;
export const RESTART_JITTER_MS = 500;
export const RESTART_WINDOW_MS = 60_000;

/** The wait before the next try after a deploy, in [RETRY, RETRY + JITTER). */
export function restartDelay(random: () => number = Math.random): number {
  return RESTART_RETRY_MS + random() * RESTART_JITTER_MS;
}

/** Full jitter: the wait after `attempt` earlier failures in a row, uniform in [0, min(cap, base × 2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Defaults to `Math.random`; specs pass their own. */
  random?: () => number;
  /** Defaults to `Date.now`; specs pass their own. */
  now?: () => number;
}

/**
 * The waits of one thing that reconnects: growing with each failure in a row (`next`), back to
 * the start once it works (`succeeded`), and on the deploy pace for a minute after a deploy
 * (`restarted`).
 */
export class Backoff {
  readonly #base: number;
  readonly #cap: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #attempt = 0;
  /** Until when (epoch ms) waits follow the deploy policy; null outside a deploy. */
  #restartUntil: number | null = null;

  constructor(options: BackoffOptions) {
    this.#base = options.baseMs;
    this.#cap = options.capMs;
    this.#random = options.random ?? (() => Math.random());
    this.#now = options.now ?? (() => Date.now());
  }

  /** Failures since the last success (deploy-paced ones are not counted). */
  get attempt(): number {
    return this.#attempt;
  }

  /** Whether the deploy window is open now (it closes by itself after `RESTART_WINDOW_MS`). */
  get restarting(): boolean {
    if (this.#restartUntil !== null && this.#now() < this.#restartUntil) return true;
    this.#restartUntil = null;
    return false;
  }

  /** The wait before the next try: the deploy pace inside the window, else the next step of the backoff. */
  next(): number {
    if (this.restarting) return restartDelay(this.#random);
    return backoffDelay(this.#attempt++, this.#base, this.#cap, this.#random);
  }

  /** The server is going away for a deploy: retry on the deploy pace for `RESTART_WINDOW_MS`. */
  restarted(): void {
    this.#restartUntil = this.#now() + RESTART_WINDOW_MS;
  }

  /** It works again: the next failure starts the backoff over, and any deploy window ends. */
  succeeded(): void {
    this.#attempt = 0;
    this.#restartUntil = null;
  }
}
