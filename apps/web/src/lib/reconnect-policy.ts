/**
 * How the web app reconnects, in one place: the chat socket and the event stream follow it, and
 * the metrics overlay quotes it when it says why one transport came back sooner.
 */

/** A lost WebSocket: full jitter, uniform in [0, min(cap, base × 2^attempt)). */
export const WS_BACKOFF_BASE_MS = 500;
export const WS_BACKOFF_CAP_MS = 10_000;

/**
 * After a deploy (close 1012, or an event stream the server ended): retry every
 * `RESTART_RETRY_MS` plus a uniform 0 to `RESTART_JITTER_MS`, spread so a thousand tabs do not
 * arrive in the same millisecond, for up to `RESTART_WINDOW_MS`; then the ordinary backoff. Every
 * tab is live again within about 1 s of the server answering.
 */
export const RESTART_RETRY_MS = 500;
export const RESTART_JITTER_MS = 500;
export const RESTART_WINDOW_MS = 60_000;

/** The wait before the next try after a deploy, in [RETRY, RETRY + JITTER). */
export function restartDelay(random: () => number = Math.random): number {
  return RESTART_RETRY_MS + random() * RESTART_JITTER_MS;
}

/** The `retry:` the server sends on its event streams by default (SSE_RETRY_MS). */
export const SSE_DEFAULT_RETRY_MS = 1_000;
