import type { StreamEntry } from '../domain/entities.js';

/** The topic name clients use for a log: `notifications` for any `user:<id>`, else the log's own name. */
export function topicOf(stream: string): string {
  return stream.startsWith('user:') ? 'notifications' : stream;
}

/** An entry's data as sent: `{topic, ...payload, sentAt}`, as one JSON line. */
export function eventData(entry: StreamEntry, sentAt: number): string {
  const payload = JSON.stringify(entry.data);
  const inner = payload.slice(1, -1);
  return `{"topic":${JSON.stringify(topicOf(entry.stream))}${inner ? ',' + inner : ''},"sentAt":${sentAt}}`;
}

/**
 * The part of an SSE event after its `id:` line, built once per entry and shared by every
 * stream that carries it (each stream writes its own `id:` line before it, because a
 * multiplexed stream's id holds its position in every topic). JSON.stringify escapes CR and LF,
 * so the data is one line and cannot end the event early.
 */
export function sseFrame(entry: StreamEntry, sentAt: number): { seq: number; body: string; plain: string; payloadBytes: number } {
  const data = eventData(entry, sentAt);
  const plain = `data: ${data}\n\n`;
  const body = `event: ${entry.type}\n${plain}`;
  return { seq: entry.seq, body, plain: entry.type === DEFAULT_EVENT[entry.stream.slice(0, entry.stream.indexOf(':'))] ? plain : body, payloadBytes: Buffer.byteLength(data) };
}

/**
 * The main event of each kind of log. A single-topic stream (`/api/blogs/:id/stream`,
 * `/api/notifications/stream`) sends it without an `event:` line, as SSE's default `message`
 * event (`EventSource.onmessage`), which saves 14 to 20 bytes per event; the multiplexed
 * `/api/events` names every event, since its readers dispatch on the name.
 */
export const DEFAULT_EVENT: Readonly<Record<string, string>> = { blog: 'update', user: 'notification' };

export interface PolledEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}
