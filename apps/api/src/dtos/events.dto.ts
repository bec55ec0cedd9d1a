import { DEFAULT_EVENT, encodeSse, NOTIFICATIONS_TOPIC } from '@rt/protocol';
import type { StreamEntry } from '../domain/entities.js';

/** The topic name clients use for a log: `notifications` for any `user:<id>`, else the log's own name. */
export function topicOf(stream: string): string {
  return stream.startsWith('user:') ? NOTIFICATIONS_TOPIC : stream;
}

const text = (value: unknown): string => JSON.stringify(typeof value === 'string' ? value : '');
const epochMs = (iso: unknown): number => (typeof iso === 'string' ? Date.parse(iso) : NaN) || 0;

/**
 * An entry's data as sent (docs/protocol.md, "Events"), as one JSON line. JSON.stringify escapes
 * CR and LF, so no text can end the event early.
 *
 * The two main events are compact arrays around their text: `notification` is
 * `[kind, t, title, body]`, plus `room, seq` when it links to a chat message (its id is the
 * event's position, so it is not repeated; a new one is unread), `update` is `[id, t, body]`; `t` is when it was stored, epoch ms. On the multiplexed
 * stream (`composite`) the topic comes first, since that stream carries several; a single-topic
 * stream's subscription already says it. Every other event is its stored object, with `topic`
 * on the multiplexed stream only.
 */
export function eventData(entry: StreamEntry, composite: boolean): string {
  const d = entry.data;
  const topic = composite ? `${JSON.stringify(topicOf(entry.stream))},` : '';
  switch (entry.type) {
    case 'notification': {
      const link = d.link as { room?: unknown; seq?: unknown } | null | undefined;
      const about = link && typeof link.room === 'string' && typeof link.seq === 'number' ? `,${JSON.stringify(link.room)},${link.seq}` : '';
      return `[${topic}${text(d.kind)},${epochMs(d.createdAt)},${text(d.title)},${text(d.body)}${about}]`;
    }
    case 'update':
      return `[${topic}${Number(d.id) || 0},${epochMs(d.createdAt)},${text(d.body)}]`;
    default: {
      const inner = JSON.stringify(d).slice(1, -1);
      if (!composite) return `{${inner}}`;
      return `{"topic":${JSON.stringify(topicOf(entry.stream))}${inner ? ',' + inner : ''}}`;
    }
  }
}

/**
 * An entry as the two forms of SSE event, built once per entry and shared by every stream that
 * carries it. `plain` is the whole event of a single-topic stream, `id:` line included (the id is
 * the seq, the same for every reader); `body` is the multiplexed stream's event after its `id:`
 * line (each stream writes its own, because a multiplexed stream's id holds its position in every
 * topic). `*PayloadBytes` are the sizes of their data (telemetry).
 */
export interface SseEventText {
  seq: number;
  plain: string;
  plainPayloadBytes: number;
  body: string;
  bodyPayloadBytes: number;
}

export function sseEvent(entry: StreamEntry): SseEventText {
  const plainData = eventData(entry, false);
  const bodyData = eventData(entry, true);
  // The log's main event goes unnamed on a single-topic stream (SSE's default `message`): see DEFAULT_EVENT.
  const unnamed = entry.type === (DEFAULT_EVENT as Readonly<Record<string, string>>)[entry.stream.slice(0, entry.stream.indexOf(':'))];
  return {
    seq: entry.seq,
    plain: encodeSse({ id: entry.seq, event: unnamed ? undefined : entry.type, data: plainData }),
    plainPayloadBytes: Buffer.byteLength(plainData),
    body: encodeSse({ event: entry.type, data: bodyData }),
    bodyPayloadBytes: Buffer.byteLength(bodyData),
  };
}
