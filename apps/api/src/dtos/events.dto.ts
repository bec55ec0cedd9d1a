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
export function sseFrame(entry: StreamEntry, sentAt: number): { seq: number; body: string; payloadBytes: number } {
  const data = eventData(entry, sentAt);
  return { seq: entry.seq, body: `event: ${entry.type}\ndata: ${data}\n\n`, payloadBytes: Buffer.byteLength(data) };
}

export interface PolledEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}
