// Server-Sent Events (docs/protocol.md, "Event streams"): the events, their data, and the one
// function that writes SSE text (https://html.spec.whatwg.org/multipage/server-sent-events.html).

import type { ProbeMessage } from './probe.js';

/** Events about a topic: they carry an id and move the stream's position. */
export const TOPIC_EVENT_NAMES = [
  'notification',
  'notification-read',
  'update',
  'update-edited',
  'update-deleted',
  'blog-followers',
  'blog-ended',
  'board',
  'picture',
] as const;
export type TopicEventName = (typeof TOPIC_EVENT_NAMES)[number];

/** Every event a stream's reader dispatches on: the topics' events, `reset` (with an id) and `auth-expired`. */
export const STREAM_EVENT_NAMES = [...TOPIC_EVENT_NAMES, 'reset', 'auth-expired'] as const;
export type StreamEventName = (typeof STREAM_EVENT_NAMES)[number];

/**
 * Events about the stream itself rather than a topic (docs/protocol.md, "Metrics"): they carry no
 * id, so they never move `Last-Event-ID`.
 */
export const CONNECTION_EVENT_NAMES = ['hello', 'pong', 'probe'] as const;
export type ConnectionEventName = (typeof CONNECTION_EVENT_NAMES)[number];

/** The probe's CPU phase: the same data as `probe`, sent only to measure the server; readers need not listen. */
export type ProbeCpuEventName = 'probe-cpu';

export type SseEventName = StreamEventName | ConnectionEventName | ProbeCpuEventName;

/**
 * The private topic of the signed-in user; a blog's is `blog:ID`; a room's board `board:ID`
 * (the room's id, signed-in readers only: `picture` first, then `board` entries, the same tuples
 * as over the WebSocket).
 */
export const NOTIFICATIONS_TOPIC = 'notifications';

/**
 * The main event of each kind of log. A single-topic stream (`/api/blogs/:id/stream`,
 * `/api/notifications/stream`) sends it without an `event:` line, as SSE's default `message`
 * event; the multiplexed `/api/events` names every event.
 */
export const DEFAULT_EVENT = { blog: 'update', user: 'notification' } as const satisfies Record<string, TopicEventName>;

/** A `notification`'s data: `[kind, t, title, body]`, plus `room, seq` when it links to a chat message; the topic first on `/api/events`. */
export type NotificationTuple = [kind: string, t: number, title: string, body: string] | [kind: string, t: number, title: string, body: string, room: string, seq: number];
/** An `update`'s data: `[id, t, body]`; the topic first on `/api/events`. */
export type UpdateTuple = [id: number, t: number, body: string];

/** A blog update as in `GET /api/blogs/:id` and `update-edited`. */
export interface BlogUpdateData {
  id: number;
  body: string;
  createdAt: string;
  editedAt: string | null;
}

/** The `data` of a `notification-read` event. */
export interface NotificationReadData {
  ids: number[];
  /** Every notification up to `ids[0]` was marked read (read-all). */
  all: boolean;
  unread: number;
}

/** Why a topic could not be resumed from the position given. */
export type ResetReason = 'ok' | 'malformed' | 'unknown' | 'expired';

/** The `data` of a `reset` event. */
export interface ResetData {
  topics: Record<string, { lastId: number; reason: ResetReason | (string & {}) }>;
}

/** The `data` of `hello`, the first event of every stream (and the first WebSocket frame). */
export interface HelloData {
  connectionId: string;
  /** The server's clock, epoch ms (fractional). */
  serverTime: number;
}

/** The `data` of a clock probe's `pong` (SSE and WebSocket alike). */
export interface PongData {
  id: number;
  t: number;
  serverTime: number;
}

/** Each event's data on a single-topic stream (on `/api/events` objects also carry `topic`, tuples have it first). */
export interface SseEventData {
  notification: NotificationTuple;
  'notification-read': NotificationReadData;
  update: UpdateTuple;
  'update-edited': BlogUpdateData;
  'update-deleted': { id: number };
  'blog-followers': { followers: number };
  'blog-ended': { endedAt: string };
  reset: ResetData;
  'auth-expired': Record<string, never>;
  hello: HelloData;
  pong: PongData;
  probe: ProbeMessage;
  'probe-cpu': ProbeMessage;
}

/** `GET /api/events/poll`: the same events as the stream, as JSON. */
export interface PolledEvent {
  id: string;
  event: string;
  data: unknown;
}

export interface PollAnswer {
  events: PolledEvent[];
  lastEventId: string;
}

/** The fields of one SSE block, each optional; written in the order comment, retry, id, event, data. */
export interface SseFields {
  /** A comment line (`: text`), which readers ignore: a heartbeat. */
  comment?: string;
  /** Reconnection time in ms: a non-negative integer. */
  retry?: number;
  id?: string | number;
  event?: string;
  /** Text; each of its lines becomes one `data:` line. */
  data?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;
const HAS_BREAK = /[\r\n]/;
const BREAKS = /[\r\n]/g;
/** An `id` with NUL is ignored by readers (the spec), so NUL goes with CR and LF. */
const ID_HAS_BREAK = /[\r\n\0]/;
const ID_BREAKS = /[\r\n\0]/g;

/** `text` on one line: CR and LF removed (tested first, so the usual clean text is not copied). */
const oneLine = (text: string): string => (HAS_BREAK.test(text) ? text.replace(BREAKS, '') : text);

/** One `id:` line: what a multiplexed stream writes per reader before the event's shared rest. */
export function sseIdLine(id: string | number): string {
  if (typeof id === 'number') return `id: ${id}\n`;
  return `id: ${ID_HAS_BREAK.test(id) ? id.replace(ID_BREAKS, '') : id}\n`;
}

/**
 * One SSE block, blank line included: the one place SSE text is written. Ids, event names and
 * comments are kept to one line (CR and LF removed: a line break there would end the field, or
 * the event, early); data is split at every line break (CRLF, CR, LF) into one `data:` line
 * each, which a reader joins back with LF. Each value follows `: `, so one leading space of its
 * own survives (readers strip exactly one). A block with only `retry` or a comment dispatches
 * nothing. The common case, one-line JSON data, is one template string.
 */
export function encodeSse(fields: SseFields): string {
  let text = '';
  if (fields.comment !== undefined) text += `: ${oneLine(fields.comment)}\n`;
  if (fields.retry !== undefined) {
    if (!Number.isInteger(fields.retry) || fields.retry < 0) throw new RangeError(`retry must be a non-negative integer, not ${fields.retry}`);
    text += `retry: ${fields.retry}\n`;
  }
  if (fields.id !== undefined) text += sseIdLine(fields.id);
  if (fields.event !== undefined) text += `event: ${oneLine(fields.event)}\n`;
  if (fields.data !== undefined) {
    const data = fields.data;
    text += HAS_BREAK.test(data) ? `data: ${data.split(LINE_BREAK).join('\ndata: ')}\n` : `data: ${data}\n`;
  }
  return `${text}\n`;
}
