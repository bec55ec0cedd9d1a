import type { User } from '../api';
import type { ChatSocket } from './socket.svelte';
import type { RoomTimeline } from './timeline.svelte';

/** The server drops `typing` frames sent more often than this. */
export const TYPING_SEND_INTERVAL_MS = 2_000;
/** A `typing` is shown this long unless another from the same user extends it. */
export const TYPING_SHOW_MS = 5_000;

const EMPTY_USERS: readonly User[] = [];

/**
 * Who is in each joined room (`presence`) and who is typing there (`typing`, shown 5 s after
 * each, ended early by the typist's next message), and our own `typing` (at most once every 2 s).
 * Both are about the live socket: they are forgotten when it goes, and the re-join sends fresh ones.
 */
export class RoomPresence {
  /** Who is in each joined room now; absent while unknown (not joined on this socket). */
  #presence = $state.raw<Record<string, readonly User[]>>({});
  #typing = $state.raw<Record<string, readonly User[]>>({});

  readonly #socket: ChatSocket;
  readonly #timeline: RoomTimeline;
  readonly #typingSentAt = new Map<string, number>();
  /** Expiry of each shown `typing`, keyed by room and user id. */
  readonly #typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(socket: ChatSocket, timeline: RoomTimeline) {
    this.#socket = socket;
    this.#timeline = timeline;
    socket.on('presence', this.#onPresence);
    socket.on('typing', this.#onTyping);
    socket.on('message', (data) => {
      // Whoever just sent a message has stopped typing it.
      const { room, author } = data;
      if (typeof room === 'string' && isUser(author)) this.#removeTyping(room, author.id);
    });
    socket.on('left', (data) => {
      if (typeof data.room === 'string' && !timeline.isJoined(data.room)) this.forget(data.room);
    });
    socket.lifecycle({
      down: () => {
        this.#presence = {};
        this.#clearTyping();
      },
      closed: () => this.#clearTyping(),
    });
    socket.claimErrors((error) => error.ref?.startsWith('typing:') === true);
  }

  /** Who is in the room now, from `presence`; null while unknown. */
  users(room: string): readonly User[] | null {
    return this.#presence[room] ?? null;
  }

  /** Others typing in the room now (each shown for 5 s after their latest `typing`). */
  typing(room: string): readonly User[] {
    return this.#typing[room] ?? EMPTY_USERS;
  }

  /** The user is typing in a room: tell the others, at most once every 2 s. */
  notifyTyping(room: string): void {
    if (!this.#timeline.isReady(room)) return;
    const now = Date.now();
    if (now - (this.#typingSentAt.get(room) ?? -Infinity) < TYPING_SEND_INTERVAL_MS) return;
    if (this.#socket.send('typing', { room }, `typing:${room}`)) this.#typingSentAt.set(room, now);
  }

  /** Presence and typing of a room we no longer receive. */
  forget(room: string): void {
    if (room in this.#presence) {
      const { [room]: _gone, ...rest } = this.#presence;
      this.#presence = rest;
    }
    for (const user of this.#typing[room] ?? EMPTY_USERS) this.#removeTyping(room, user.id);
  }

  #onPresence = (data: Record<string, unknown>): void => {
    const { room, users } = data;
    if (typeof room !== 'string' || !Array.isArray(users)) return;
    this.#presence = { ...this.#presence, [room]: users.filter(isUser) };
  };

  #onTyping = (data: Record<string, unknown>): void => {
    const { room, user } = data;
    if (typeof room !== 'string' || !isUser(user)) return;
    const key = typingKey(room, user.id);
    clearTimeout(this.#typingTimers.get(key));
    this.#typingTimers.set(
      key,
      setTimeout(() => this.#removeTyping(room, user.id), TYPING_SHOW_MS),
    );
    const list = this.#typing[room] ?? EMPTY_USERS;
    if (!list.some((u) => u.id === user.id)) this.#typing = { ...this.#typing, [room]: [...list, user] };
  };

  #removeTyping(room: string, userId: number): void {
    const key = typingKey(room, userId);
    clearTimeout(this.#typingTimers.get(key));
    this.#typingTimers.delete(key);
    const list = this.#typing[room];
    if (list?.some((u) => u.id === userId)) {
      this.#typing = { ...this.#typing, [room]: list.filter((u) => u.id !== userId) };
    }
  }

  #clearTyping(): void {
    for (const timer of this.#typingTimers.values()) clearTimeout(timer);
    this.#typingTimers.clear();
    this.#typing = {};
  }
}

function isUser(value: unknown): value is User {
  if (!value || typeof value !== 'object') return false;
  const { id, username } = value as { id?: unknown; username?: unknown };
  return typeof id === 'number' && typeof username === 'string';
}

function typingKey(room: string, userId: number): string {
  return `${room}\n${userId}`;
}
