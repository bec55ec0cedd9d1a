import { api, type ChatMessage, type HistoryPage } from '../api';
import type { ChatSocket } from './socket.svelte';
import { normalize, type RoomTimeline } from './timeline.svelte';

/** Messages per `GET /api/rooms/:room/messages` page. */
export const HISTORY_PAGE_SIZE = 50;

/** Where the older history of a room stands. */
export interface HistoryState {
  loading: boolean;
  /** The oldest message of the room is held (or the room is empty): nothing more to load. */
  atStart: boolean;
  /** Why the last page could not be loaded, if it could not. */
  error: string | null;
}

interface RoomHistory {
  loading: boolean;
  /**
   * The oldest `seq` held when the server said `hasMore: false`: the start is held while that is
   * still the oldest one (live messages pushing the oldest out of the timeline undo it).
   */
  startSeq: number | null;
  error: string | null;
}

export type FetchPage = (room: string, before: number, limit: number) => Promise<HistoryPage>;

/** Pages of older messages over REST (`GET /api/rooms/:room/messages?before=`), in front of a room's timeline. */
export class HistoryPager {
  #history = $state.raw<Record<string, RoomHistory>>({});

  readonly #timeline: RoomTimeline;
  readonly #fetchPage: FetchPage;
  #closed = false;

  constructor(socket: ChatSocket, timeline: RoomTimeline, fetchPage: FetchPage = api.roomMessages) {
    this.#timeline = timeline;
    this.#fetchPage = fetchPage;
    socket.lifecycle({ closed: () => (this.#closed = true) });
  }

  state(room: string): HistoryState {
    const state = this.#history[room];
    const list = this.#timeline.messages(room);
    const oldest = list[0]?.seq;
    const atStart =
      (state?.startSeq != null && state.startSeq === oldest) || oldest === 1 || (list.length === 0 && this.#timeline.lastSeq(room) === 0);
    return { loading: state?.loading ?? false, atStart, error: state?.error ?? null };
  }

  /** Load the page of history before the oldest message held. No-op while loading or at the start. */
  async loadOlder(room: string): Promise<void> {
    const { loading, atStart } = this.state(room);
    if (loading || atStart) return;
    const before = this.#timeline.messages(room)[0]?.seq;
    if (before === undefined) return; // the join's history is not in yet
    this.#set(room, { loading: true, startSeq: null, error: null });

    let page: HistoryPage;
    try {
      page = await this.#fetchPage(room, before, HISTORY_PAGE_SIZE);
    } catch (err) {
      if (!this.#closed) this.#set(room, { loading: false, startSeq: null, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (this.#closed) return;

    // Live messages may have pushed the oldest ones out meanwhile: a page that no longer joins up
    // would leave a gap, so drop it and let the next scroll ask again.
    if (this.#timeline.messages(room)[0]?.seq !== before) {
      this.#set(room, { loading: false, startSeq: null, error: null });
      return;
    }
    const older: ChatMessage[] = [];
    for (const raw of [...page.messages].sort((a, b) => a.seq - b.seq)) {
      if (typeof raw?.seq !== 'number' || raw.seq >= before || older.at(-1)?.seq === raw.seq) continue;
      older.push(normalize({ ...raw, room }));
    }
    this.#timeline.prepend(room, older);
    // An empty page that claims more would have us ask again forever.
    const complete = !page.hasMore || older.length === 0;
    this.#set(room, { loading: false, startSeq: complete ? (older[0]?.seq ?? before) : null, error: null });
  }

  #set(room: string, state: RoomHistory): void {
    this.#history = { ...this.#history, [room]: state };
  }
}
