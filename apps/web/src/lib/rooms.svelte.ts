import { api, type Room } from './api';
import type { ChatConnection } from './chat.svelte';

/** `general` exists on every installation: where the app opens. */
export const DEFAULT_ROOM = 'general';
/** How often the room list (counts included) is fetched again. */
const REFRESH_INTERVAL_MS = 10_000;

/** One row of the sidebar. */
export interface RoomItem {
  name: string;
  /** 0 for the room being viewed. */
  unread: number;
  online: number;
  active: boolean;
}

/**
 * The room list and which room is open.
 *
 * The list comes from `GET /api/rooms` (every 10 s, and whenever the open room changes); between
 * two fetches the counts follow the socket: unread grows with messages from others in rooms
 * joined in the background, and drops to what was read here; online follows `presence`.
 */
export class RoomDirectory {
  #rooms = $state.raw<readonly Room[]>([]);
  #active = $state(DEFAULT_ROOM);
  /** Why the latest fetch of the list failed, if it did. */
  #loadError = $state<string | null>(null);

  readonly #chat: ChatConnection;
  readonly #userId: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Answers of older fetches that come back late must not replace a newer list. */
  #fetchId = 0;
  #closed = false;
  /**
   * Read positions other tabs of this browser (same user) reached, by room: unread counts are
   * the browser's, not the tab's. Between two fetches the server's counts lag; this does not.
   */
  #sharedRead = $state.raw<Record<string, number>>({});
  readonly #channel: BroadcastChannel | null;

  constructor(chat: ChatConnection, userId: number) {
    this.#chat = chat;
    this.#userId = userId;
    this.#channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`rt-read-${userId}`) : null;
    this.#channel?.addEventListener('message', this.#onShared);
  }

  /** Another tab read up to `seq` in `room`. Anything malformed is ignored. */
  #onShared = (event: MessageEvent<unknown>): void => {
    const data = event.data as { room?: unknown; seq?: unknown } | null;
    if (!data || typeof data.room !== 'string' || typeof data.seq !== 'number' || !Number.isSafeInteger(data.seq)) return;
    if (data.seq <= (this.#sharedRead[data.room] ?? 0)) return;
    this.#sharedRead = { ...this.#sharedRead, [data.room]: data.seq };
  };

  /** This tab shows `room` up to `seq`: tell the server (throttled by the connection) and the other tabs. */
  markRead(room: string, seq: number): void {
    this.#chat.reads.markRead(room, seq);
    this.#channel?.postMessage({ room, seq });
  }

  get active(): string {
    return this.#active;
  }

  get loadError(): string | null {
    return this.#loadError;
  }

  /** The rooms, by name, with counts; the open room is listed even before the server lists it. */
  get items(): RoomItem[] {
    const rooms = this.#rooms.some((r) => r.name === this.#active)
      ? this.#rooms
      : [...this.#rooms, placeholder(this.#active)].sort((a, b) => (a.name < b.name ? -1 : 1));
    return rooms.map((room) => ({
      name: room.name,
      unread: this.#unread(room),
      online: this.#chat.presence.users(room.name)?.length ?? room.online,
      active: room.name === this.#active,
    }));
  }

  /** Open the list: fetch it now and every 10 s. */
  start(): void {
    this.#chat.timeline.join(this.#active);
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS);
  }

  close(): void {
    this.#closed = true;
    this.#channel?.close();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Show a room. It is joined if it was not; the rooms opened before stay joined in the background. */
  open(name: string): void {
    if (name === this.#active) return;
    this.#active = name;
    this.#chat.timeline.join(name);
    void this.refresh();
  }

  /**
   * Create a room and open it; resolves with its name as the server stored it. Throws `ApiError`
   * (400 invalid name, 409 taken) with the server's message.
   */
  async create(name: string): Promise<string> {
    const { room } = await api.createRoom(name);
    if (this.#closed) return room.name;
    if (!this.#rooms.some((r) => r.name === room.name)) {
      this.#rooms = [...this.#rooms, room].sort((a, b) => (a.name < b.name ? -1 : 1));
    }
    this.open(room.name);
    return room.name;
  }

  async refresh(): Promise<void> {
    const id = ++this.#fetchId;
    try {
      const { rooms } = await api.rooms();
      if (this.#closed || id !== this.#fetchId) return;
      this.#rooms = rooms;
      this.#loadError = null;
    } catch (err) {
      if (this.#closed || id !== this.#fetchId) return;
      // Keep showing the last list; the next tick tries again.
      this.#loadError = err instanceof Error ? err.message : String(err);
    }
  }

  /**
   * The server's count at the last fetch, moved by what happened here since: minus messages by
   * others we have told the server we read, plus messages by others that arrived after it.
   */
  #unread(room: Room): number {
    if (room.name === this.#active) return 0;
    const chat = this.#chat;
    const read = Math.max(chat.reads.readSeq(room.name) ?? 0, this.#sharedRead[room.name] ?? 0);
    let unread = room.unread;
    if (read > room.lastReadSeq) {
      unread -= chat.timeline.countFromOthers(room.name, this.#userId, room.lastReadSeq, Math.min(read, room.lastSeq));
    }
    unread += chat.timeline.countFromOthers(room.name, this.#userId, Math.max(room.lastSeq, read));
    return Math.max(0, unread);
  }
}

/** A room the server has not listed (yet): no counts known. */
function placeholder(name: string): Room {
  return { name, createdAt: '', lastSeq: 0, members: 0, online: 0, member: false, lastReadSeq: 0, unread: 0 };
}
