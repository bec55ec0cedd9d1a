// Limits that both ends of the wire know (docs/protocol.md). Where the server makes one
// configurable, the constant here is its default, and what the web app assumes.

/** A room name: 1 to 32 of a-z, 0-9, `_`, `-`, starting with a letter or digit. */
export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Characters of a chat message's text after trimming (the server's `CHAT_MAX_TEXT_CHARS` default). */
export const CHAT_MAX_TEXT_CHARS = 4000;

/** Characters of a chat message's `clientId` (at least 1). */
export const CLIENT_ID_MAX_CHARS = 64;

/** Characters of a frame's `ref` the server echoes (a longer one is cut to this). */
export const REF_MAX_CHARS = 64;

/** Bytes of one WebSocket frame the server accepts (`WS_MAX_FRAME_BYTES` default); above it, close 1009. */
export const WS_MAX_FRAME_BYTES = 64 * 1024;

/** Topics one event stream (`/api/events?topics=...`) may carry. */
export const MAX_TOPICS = 10;

/** Events one call of the polling fallback (`/api/events/poll`) returns at most. */
export const POLL_LIMIT = 100;

/** The `retry:` the server sends on its event streams by default (`SSE_RETRY_MS`). */
export const SSE_DEFAULT_RETRY_MS = 1_000;

/** `POST /api/probe`: the bounds the server enforces on each field, and the overlay's defaults. */
export const PROBE_LIMITS = {
  sizeBytes: { min: 64, max: 65_536, default: 100 },
  ratePerSecond: { min: 1, max: 1_000, default: 50 },
  durationMs: { min: 500, max: 30_000, default: 3_000 },
} as const;
