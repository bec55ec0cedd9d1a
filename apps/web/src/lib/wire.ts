import { isBoardEntry, type BoardEntry } from '@rt/protocol';

// The server's frames and events as the app reads them: the one place where wire formats
// (docs/protocol.md; their types and names in @rt/protocol, packages/protocol/src) become the
// objects the rest of the app uses. What comes off the wire is checked here, not trusted. The busiest ones are compact
// JSON arrays; everything else is `{event, data}` (WebSocket) or an object (SSE).

/**
 * A WebSocket frame: its event and data (a `message` frame as a ChatMessage-shaped object; a
 * board entry as `board-entry` with `{room, entry}`).
 */
export interface ChatFrame {
  event: string;
  data: Record<string, unknown>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);
const iso = (ms: number) => new Date(ms).toISOString();

const isInt = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
const isPoints = (value: unknown): value is number[] => Array.isArray(value) && value.length % 2 === 0 && value.every(isInt);

/** Whether a board entry's fields have the types its kind says (docs: `BoardEntry`, @rt/protocol). */
function isWellFormedEntry(entry: BoardEntry): boolean {
  const [kind, , seq, authorId, t] = entry;
  if (!isInt(seq) || !isInt(authorId) || typeof t !== 'number') return false;
  switch (kind) {
    case 's':
      return isInt(entry[5]) && typeof entry[6] === 'string' && isInt(entry[7]) && (entry[8] === 0 || entry[8] === 1) && isPoints(entry[9]);
    case 'p':
      return isInt(entry[5]) && isInt(entry[6]) && isPoints(entry[7]);
    case 'u':
      return isInt(entry[5]);
    case 'c':
      return typeof entry[5] === 'string';
  }
}

/** Acks remembered until their message frame comes (a message that never comes is forgotten past this many). */
const MAX_ACKS_WAITING = 1000;

/**
 * Reads the chat socket's frames. A `message` is `[roomId, seq, authorId, author, t, text]`
 * (plus `editedAt` when edited): the room by id, which the `joining` frame of each join maps to
 * its name before any of the room's messages; `t` and `editedAt` are epoch ms; a deleted message
 * has the text "". Keeps the room ids it has learned (they never change).
 *
 * The frame does not carry the author's `clientId` (only the author's `ack` does): a message
 * whose `ack` came first is given the `clientId` of that ack, so our own message is recognised
 * in whichever order the two arrive, also when it comes in a re-join's history on a new socket
 * (the acks are kept across sockets, bounded).
 *
 * A board entry is an array too, with its kind letter first (`BoardEntry`); its room id comes
 * from `joining` or from the `board-picture` / `board-resume` that answers a `board-join`.
 */
export class ChatFrameReader {
  readonly #rooms = new Map<number, string>();
  /** `room\nseq` -> clientId, from acks whose message frame has not come yet. */
  readonly #acks = new Map<string, string>();

  /** One frame's text as {event, data}; null for anything that is not a frame we can read. */
  read(raw: string): ChatFrame | null {
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return null;
    }
    if (isBoardEntry(frame)) return this.#boardEntry(frame);
    if (Array.isArray(frame)) return this.#message(frame);
    if (!isRecord(frame)) return null;
    const { event, data } = frame;
    if (typeof event !== 'string' || !isRecord(data)) return null;
    const namesRoom = event === 'joining' || event === 'board-picture' || event === 'board-resume';
    if (namesRoom && typeof data.id === 'number' && typeof data.room === 'string') this.#rooms.set(data.id, data.room);
    if (event === 'ack' && typeof data.clientId === 'string' && typeof data.seq === 'number' && typeof data.room === 'string') {
      if (this.#acks.size >= MAX_ACKS_WAITING) this.#acks.delete(this.#acks.keys().next().value!);
      this.#acks.set(`${data.room}\n${data.seq}`, data.clientId);
    }
    return { event, data };
  }

  #boardEntry(entry: BoardEntry): ChatFrame | null {
    const room = this.#rooms.get(entry[1]);
    if (room === undefined || !isWellFormedEntry(entry)) return null;
    return { event: 'board-entry', data: { room, entry } };
  }

  #message(fields: unknown[]): ChatFrame | null {
    const [roomId, seq, authorId, username, t, text, editedAt] = fields;
    if (typeof roomId !== 'number' || typeof seq !== 'number' || typeof authorId !== 'number' || typeof username !== 'string') return null;
    if (typeof t !== 'number' || typeof text !== 'string') return null;
    const room = this.#rooms.get(roomId);
    if (room === undefined) return null;
    const key = `${room}\n${seq}`;
    const clientId = this.#acks.get(key);
    if (clientId !== undefined) this.#acks.delete(key);
    return {
      event: 'message',
      data: {
        room,
        seq,
        author: { id: authorId, username },
        text,
        createdAt: iso(t),
        editedAt: typeof editedAt === 'number' ? iso(editedAt) : null,
        deleted: text === '',
        t,
        ...(clientId === undefined ? {} : { clientId }),
      },
    };
  }
}

/**
 * An SSE event's data as the app reads it. The two main events are compact arrays:
 * `notification` `[kind, t, title, body]`, plus `room, seq` when it links to a chat message (its
 * id is the event's position, `seq`), and `update`
 * `[id, t, body]`, each with the topic first on `/api/events`. They become the objects of the
 * REST API (`Notification`, `BlogUpdate`) with `topic` and `t` (stored, epoch ms). A `board`
 * entry becomes `{topic, entry, t}` around the tuple. Any other event's data is an object
 * already and is returned as it is.
 *
 * `position` gives the event's position in a topic (from its id), for the notification's id.
 */
export function readStreamData(event: string, data: unknown, position: (topic: string) => number | undefined): unknown {
  // A board entry is the WebSocket's tuple as it is: `[kind, roomId, seq, authorId, t, ...]`.
  if (event === 'board') {
    if (!Array.isArray(data) || typeof data[1] !== 'number' || typeof data[4] !== 'number') return null;
    return { topic: `board:${data[1]}`, entry: data, t: data[4] };
  }
  if (!Array.isArray(data) || typeof data[0] !== 'string') return data;
  const [topic, ...rest] = data as [string, ...unknown[]];
  if (event === 'notification') {
    const [kind, t, title, body, room, seq] = rest;
    if (typeof t !== 'number') return null;
    const link = typeof room === 'string' && typeof seq === 'number' ? { room, seq } : null;
    return { topic, id: position(topic) ?? 0, kind, title, body, createdAt: iso(t), read: false, link, t };
  }
  if (event === 'update') {
    const [id, t, body] = rest;
    if (typeof t !== 'number') return null;
    return { topic, id, body, createdAt: iso(t), editedAt: null, t };
  }
  return data;
}
