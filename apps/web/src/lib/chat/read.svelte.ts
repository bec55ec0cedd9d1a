import type { ChatSocket } from './socket.svelte';
import type { RoomTimeline } from './timeline.svelte';

/** At most one `read` per room per this interval. */
export const READ_INTERVAL_MS = 1_000;

/**
 * The user's read position per room, told to the server in `read` frames: at most one per room
 * a second, the latest position winning, and sent again once the room is joined on a new socket
 * if it could not go out.
 */
export class ReadReceipts {
  /** The highest `seq` we told the server we have read, per room. */
  #readSeq = $state.raw<Record<string, number>>({});

  readonly #socket: ChatSocket;
  readonly #timeline: RoomTimeline;
  /** The `read` position each room is waiting to send (throttled). */
  readonly #wanted = new Map<string, number>();
  readonly #sentAt = new Map<string, number>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(socket: ChatSocket, timeline: RoomTimeline) {
    this.#socket = socket;
    this.#timeline = timeline;
    socket.on('joined', (data) => {
      if (typeof data.room === 'string') this.#flush(data.room);
    });
    socket.lifecycle({
      closed: () => {
        for (const timer of this.#timers.values()) clearTimeout(timer);
        this.#timers.clear();
      },
    });
    socket.claimErrors((error) => error.ref?.startsWith('read:') === true);
  }

  /** The highest `seq` sent in a `read` for a room. */
  readSeq(room: string): number | undefined {
    return this.#readSeq[room];
  }

  /** The user has seen a room up to `seq`. Sent at most once a second per room, the latest position winning. */
  markRead(room: string, seq: number): void {
    if (!(seq > 0)) return;
    const wanted = Math.max(this.#wanted.get(room) ?? 0, seq);
    if (wanted <= (this.#readSeq[room] ?? 0)) return;
    this.#wanted.set(room, wanted);
    this.#flush(room);
  }

  #flush(room: string): void {
    const seq = this.#wanted.get(room);
    if (seq === undefined || !this.#timeline.isReady(room) || this.#timers.has(room)) return;
    const wait = (this.#sentAt.get(room) ?? -Infinity) + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.#timers.set(
        room,
        setTimeout(() => {
          this.#timers.delete(room);
          this.#flush(room);
        }, wait),
      );
      return;
    }
    if (!this.#socket.send('read', { room, seq }, `read:${room}`)) return;
    this.#wanted.delete(room);
    this.#sentAt.set(room, Date.now());
    this.#readSeq = { ...this.#readSeq, [room]: Math.max(seq, this.#readSeq[room] ?? 0) };
  }
}
