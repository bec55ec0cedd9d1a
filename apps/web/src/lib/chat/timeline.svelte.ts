import { CHAT_MAX_TEXT_CHARS, type JoinData } from '@rt/protocol';
import type { ChatMessage } from '../api';
import { preciseNow } from '../clock';
import type { ChatSocket } from './socket.svelte';

/** Keep memory bounded in a long-open tab; older messages drop off the top. */
export const MAX_MESSAGES_PER_ROOM = 1000;
/** Changes to messages older than the ones held, kept for a history page that is on its way. */
const MAX_ORPHAN_CHANGES_PER_ROOM = 200;

const EMPTY_MESSAGES: readonly ChatMessage[] = [];

/** The part of a message an edit or a delete changes. */
type Change = Pick<ChatMessage, 'text' | 'editedAt' | 'deleted'>;

/**
 * The rooms this tab is in and the messages of each: `join`/`leave`, the `joined`/`left`
 * answers, `message` frames kept sorted by `seq` (one per `seq`, so a replay never shows twice),
 * and `message-edited`/`message-deleted` applied once each by `rev`.
 *
 * On every new socket it re-joins each room with `afterSeq` and `afterRev`, so the server sends
 * exactly the messages and the changes that were missed. A room is *ready* once its `joined` came
 * back on the current socket: other features send to it only then. Its `joined` handler runs
 * before theirs, so construct it first.
 */
export class RoomTimeline {
  // Raw state replaced wholesale on change: no deep proxies over long message lists.
  #messages = $state.raw<Record<string, readonly ChatMessage[]>>({});
  #lastSeq = $state.raw<Record<string, number>>({});
  #lastRev = $state.raw<Record<string, number>>({});

  readonly #socket: ChatSocket;
  /** Rooms the user asked to join; re-joined on every new socket. */
  readonly #rooms = new Set<string>();
  /** Rooms whose `joined` arrived on the current socket: sending to them is allowed. */
  readonly #ready = new Set<string>();
  /** Per room: the latest change to each message older than the ones held, by `seq`. */
  readonly #orphanChanges = new Map<string, Map<number, Change>>();

  constructor(socket: ChatSocket) {
    this.#socket = socket;
    socket.on('message', (data) => this.#onMessage(data as unknown as ChatMessage));
    socket.on('joined', this.#onJoined);
    socket.on('left', this.#onLeft);
    socket.on('message-edited', (data) => this.#onChange(data, 'edited'));
    socket.on('message-deleted', (data) => this.#onChange(data, 'deleted'));
    socket.lifecycle({
      open: () => {
        for (const room of this.#rooms) this.#sendJoin(room);
      },
      down: () => this.#ready.clear(),
      closed: () => this.#ready.clear(),
    });
    socket.claimErrors((error) => {
      const [kind, room] = (error.ref ?? '').split(':');
      // A room that does not exist: stop asking for it on every reconnect (and say so).
      if (kind === 'join' && error.code === 'room_not_found' && room) this.#rooms.delete(room);
      return kind === 'leave';
    });
  }

  /** Messages of a room, sorted by `seq`, one per `seq`. */
  messages(room: string): readonly ChatMessage[] {
    return this.#messages[room] ?? EMPTY_MESSAGES;
  }

  /** The highest `seq` we hold for a room (what a re-join asks to continue after). */
  lastSeq(room: string): number | undefined {
    return this.#lastSeq[room];
  }

  /** The highest `rev` (edit or delete) we have applied for a room (what a re-join asks to continue after). */
  lastRev(room: string): number | undefined {
    return this.#lastRev[room];
  }

  /** The user asked to be in the room (it is re-joined on every socket). */
  isJoined(room: string): boolean {
    return this.#rooms.has(room);
  }

  /** The room's `joined` came back on the current socket: frames about it may be sent. */
  isReady(room: string): boolean {
    return this.#ready.has(room);
  }

  /**
   * Held messages of a room by someone other than `userId`, not deleted, with
   * `after < seq <= upTo`. What a room's unread count moved by since the server counted it.
   */
  countFromOthers(room: string, userId: number, after: number, upTo = Infinity): number {
    const list = this.messages(room);
    let count = 0;
    for (let i = list.length - 1; i >= 0 && list[i].seq > after; i--) {
      const message = list[i];
      if (message.seq <= upTo && !message.deleted && message.author.id !== userId) count += 1;
    }
    return count;
  }

  /** Subscribe to a room. Idempotent; remembered across reconnects. */
  join(room: string): void {
    if (this.#rooms.has(room)) return;
    this.#rooms.add(room);
    if (this.#socket.isOpen) this.#sendJoin(room);
  }

  /** Stop receiving a room. What is held stays; a later `join` continues after it. */
  leave(room: string): boolean {
    if (!this.#rooms.delete(room)) return false;
    this.#ready.delete(room);
    this.#socket.send('leave', { room }, `leave:${room}`);
    return true;
  }

  /**
   * Ask the server to change the text of one of our messages; the change shows when its
   * `message-edited` comes back. Returns false (and sends nothing) for empty or too long text,
   * or when the room is not joined on an open socket right now.
   */
  edit(room: string, seq: number, text: string): boolean {
    const trimmed = text.trim();
    if (!trimmed || trimmed.length > CHAT_MAX_TEXT_CHARS || !this.#ready.has(room)) return false;
    return this.#socket.send('edit', { room, seq, text: trimmed }, `edit:${room}:${seq}`);
  }

  /** Ask the server to delete one of our messages. False when the room is not joined right now. */
  remove(room: string, seq: number): boolean {
    if (!this.#ready.has(room)) return false;
    return this.#socket.send('delete', { room, seq }, `delete:${room}:${seq}`);
  }

  /**
   * Put a page of older messages (sorted, each older than the ones held) in front, with any
   * change that came for them while the page was on its way.
   */
  prepend(room: string, older: readonly ChatMessage[]): void {
    const changes = this.#orphanChanges.get(room);
    const withChanges = older.map((message) => {
      const change = changes?.get(message.seq);
      if (!changes || !change) return message;
      changes.delete(message.seq);
      return message.deleted ? message : { ...message, ...change };
    });
    this.#messages = { ...this.#messages, [room]: [...withChanges, ...this.messages(room)] };
  }

  #sendJoin(room: string): void {
    // On a re-join ask only for what we missed; on the first join, for the latest history.
    const afterSeq = this.#lastSeq[room];
    const afterRev = this.#lastRev[room];
    const data: JoinData = { room };
    if (afterSeq !== undefined) {
      data.afterSeq = afterSeq;
      if (afterRev !== undefined) data.afterRev = afterRev;
    }
    if (this.#socket.send('join', data, `join:${room}`)) {
      this.#socket.emit({ type: 'join', at: preciseNow(), room, afterSeq });
    }
  }

  #onMessage(raw: ChatMessage): void {
    if (typeof raw.room !== 'string' || typeof raw.seq !== 'number') return;
    const message = normalize(raw);
    const { room, seq } = message;
    const list = this.#messages[room] ?? EMPTY_MESSAGES;
    const next = insertBySeq(list, message);
    if (next === list) return; // that seq is already here: replace nothing
    // Past the bound the oldest drop off; the history pager sees it can load them again.
    this.#messages = { ...this.#messages, [room]: next.length > MAX_MESSAGES_PER_ROOM ? next.slice(-MAX_MESSAGES_PER_ROOM) : next };
    if (seq > (this.#lastSeq[room] ?? 0)) this.#lastSeq = { ...this.#lastSeq, [room]: seq };
  }

  #onJoined = (data: Record<string, unknown>): void => {
    const { room, lastSeq, lastRev } = data;
    if (typeof room !== 'string') return;
    this.#ready.add(room);
    // A working join proves the connection is healthy: the next drop starts the backoff over.
    this.#socket.markHealthy();
    // An empty room has no message to learn a seq from; remember the server's position
    // so a re-join still sends `afterSeq` (0) rather than asking for the latest history again.
    if (this.#lastSeq[room] === undefined && typeof lastSeq === 'number') {
      this.#lastSeq = { ...this.#lastSeq, [room]: lastSeq };
    }
    // Every change up to `lastRev` is now reflected in what we hold: the history carries each
    // message's latest state, and a re-join with `afterRev` replayed the rest before `joined`.
    if (typeof lastRev === 'number' && lastRev > (this.#lastRev[room] ?? -1)) {
      this.#lastRev = { ...this.#lastRev, [room]: lastRev };
    }
  };

  #onLeft = (data: Record<string, unknown>): void => {
    const { room } = data;
    // A `left` that crosses a new `join` of the same room must not undo it.
    if (typeof room !== 'string' || this.#rooms.has(room)) return;
    this.#ready.delete(room);
  };

  #onChange(data: Record<string, unknown>, kind: 'edited' | 'deleted'): void {
    const { room, seq, rev } = data;
    if (typeof room !== 'string' || typeof seq !== 'number' || typeof rev !== 'number') return;
    // Already reflected (the history we hold is at least that recent).
    if (rev <= (this.#lastRev[room] ?? 0)) return;
    this.#lastRev = { ...this.#lastRev, [room]: rev };

    let change: Change;
    if (kind === 'deleted') {
      change = { text: '', editedAt: null, deleted: true };
    } else {
      if (typeof data.text !== 'string') return;
      change = { text: data.text, editedAt: typeof data.editedAt === 'string' ? data.editedAt : new Date().toISOString(), deleted: false };
    }

    const list = this.#messages[room] ?? EMPTY_MESSAGES;
    const at = indexOfSeq(list, seq);
    if (at === -1) {
      // Older than what we hold: a history page on its way may carry the state before this change.
      if (list.length === 0 || seq < list[0].seq) this.#rememberOrphanChange(room, seq, change);
      return;
    }
    const current = list[at];
    // A deleted message stays deleted: a late edit must not bring its text back.
    const updated = current.deleted ? current : { ...current, ...change };
    if (updated === current) return;
    this.#messages = { ...this.#messages, [room]: [...list.slice(0, at), updated, ...list.slice(at + 1)] };
  }

  #rememberOrphanChange(room: string, seq: number, change: Change): void {
    let changes = this.#orphanChanges.get(room);
    if (!changes) this.#orphanChanges.set(room, (changes = new Map<number, Change>()));
    const previous = changes.get(seq);
    changes.delete(seq); // re-insert: the map's order is the age of the latest change
    changes.set(seq, previous?.deleted ? previous : change);
    if (changes.size > MAX_ORPHAN_CHANGES_PER_ROOM) {
      const oldest = changes.keys().next();
      if (!oldest.done) changes.delete(oldest.value);
    }
  }
}

/** Fill in the fields an older server may leave out, and blank the text of a deleted message. */
export function normalize(message: ChatMessage): ChatMessage {
  const deleted = message.deleted === true;
  return {
    ...message,
    text: deleted ? '' : typeof message.text === 'string' ? message.text : '',
    editedAt: typeof message.editedAt === 'string' ? message.editedAt : null,
    deleted,
  };
}

/** Index of the first message whose seq is not below `seq` (binary search). */
function lowerBound(list: readonly ChatMessage[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function indexOfSeq(list: readonly ChatMessage[], seq: number): number {
  const at = lowerBound(list, seq);
  return list[at]?.seq === seq ? at : -1;
}

/** Insert by `seq`; returns `list` itself if that seq is already present. */
function insertBySeq(list: readonly ChatMessage[], message: ChatMessage): readonly ChatMessage[] {
  const last = list.at(-1);
  // The usual case, a live message after everything we have.
  if (last === undefined || last.seq < message.seq) return [...list, message];
  const at = lowerBound(list, message.seq);
  if (list[at]?.seq === message.seq) return list;
  return [...list.slice(0, at), message, ...list.slice(at)];
}
