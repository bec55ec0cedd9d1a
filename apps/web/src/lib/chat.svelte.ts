import type { ChatMessage } from './api';

export type ChatStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

/** A message we sent whose `clientId` has not come back in a `message` frame yet. */
export interface PendingMessage {
  clientId: string;
  room: string;
  text: string;
  /** Local clock, epoch ms. */
  createdAt: number;
  /** The server's `error` message if it refused this one; a failed message is not re-sent by itself. */
  failed: string | null;
}

/** The last `error` frame. */
export interface ChatError {
  code: string;
  message: string;
  ref: string | null;
}

/** Same limit as the server: 1 to 4,000 characters after trimming. */
export const MAX_TEXT_LENGTH = 4000;

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
/** Keep memory bounded in a long-open tab; older messages drop off the top. */
const MAX_MESSAGES_PER_ROOM = 1000;

const EMPTY_MESSAGES: readonly ChatMessage[] = [];
const EMPTY_PENDING: readonly PendingMessage[] = [];

function defaultUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * One WebSocket to `/ws` and the chat state it feeds.
 *
 * Survives disconnects: it reconnects with exponential backoff and full jitter, re-joins every
 * room with `afterSeq` (so the server sends exactly what was missed), and re-sends pending
 * messages with the same `clientId` once the room's history is in (so a message that was stored
 * just before the drop is recognised in the history instead of being sent twice).
 */
export class ChatConnection {
  #status = $state<ChatStatus>('connecting');
  // Raw state replaced wholesale on change: no deep proxies over long message lists.
  #messages = $state.raw<Record<string, readonly ChatMessage[]>>({});
  #lastSeq = $state.raw<Record<string, number>>({});
  #pending = $state.raw<readonly PendingMessage[]>([]);
  #lastError = $state.raw<ChatError | null>(null);

  readonly #url: string;
  #socket: WebSocket | null = null;
  /** Rooms the user asked to join; re-joined on every new socket. */
  readonly #rooms = new Set<string>();
  /** Rooms whose `joined` arrived on the current socket: sending to them is allowed. */
  readonly #ready = new Set<string>();
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(url: string = defaultUrl()) {
    this.#url = url;
    window.addEventListener('online', this.#onBrowserOnline);
    this.#connect();
  }

  get status(): ChatStatus {
    return this.#status;
  }

  get lastError(): ChatError | null {
    return this.#lastError;
  }

  /** Messages of a room, sorted by `seq`, one per `seq`. */
  messages(room: string): readonly ChatMessage[] {
    return this.#messages[room] ?? EMPTY_MESSAGES;
  }

  /** The highest `seq` we hold for a room (what a re-join asks to continue after). */
  lastSeq(room: string): number | undefined {
    return this.#lastSeq[room];
  }

  pending(room: string): readonly PendingMessage[] {
    const list = this.#pending.filter((p) => p.room === room);
    return list.length ? list : EMPTY_PENDING;
  }

  /** Subscribe to a room. Idempotent; remembered across reconnects. */
  join(room: string): void {
    if (this.#rooms.has(room)) return;
    this.#rooms.add(room);
    if (this.#isOpen()) this.#sendJoin(room);
  }

  /**
   * Queue a message and send it as soon as the room is joined on an open socket.
   * Returns false (and sends nothing) for empty or too long text.
   */
  send(room: string, text: string): boolean {
    const trimmed = text.trim();
    if (!trimmed || trimmed.length > MAX_TEXT_LENGTH) return false;
    const message: PendingMessage = {
      clientId: crypto.randomUUID(),
      room,
      text: trimmed,
      createdAt: Date.now(),
      failed: null,
    };
    this.#pending = [...this.#pending, message];
    this.join(room);
    if (this.#ready.has(room)) this.#transmit(message);
    return true;
  }

  /** Try a failed message again, with its original `clientId`. */
  retry(clientId: string): void {
    const message = this.#pending.find((p) => p.clientId === clientId);
    if (!message) return;
    const again = { ...message, failed: null };
    this.#pending = this.#pending.map((p) => (p === message ? again : p));
    if (this.#ready.has(again.room)) this.#transmit(again);
  }

  discard(clientId: string): void {
    this.#pending = this.#pending.filter((p) => p.clientId !== clientId);
  }

  dismissError(): void {
    this.#lastError = null;
  }

  /** Stop for good (sign out). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    window.removeEventListener('online', this.#onBrowserOnline);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    this.#socket = null;
    this.#ready.clear();
    socket?.close(1000);
    this.#status = 'offline';
  }

  #isOpen(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  #connect(): void {
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    this.#ready.clear();

    // Every handler first checks that its socket is still the current one,
    // so a late event from a replaced socket cannot touch the state.
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      this.#status = 'online';
      for (const room of this.#rooms) this.#sendJoin(room);
    });
    socket.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (socket !== this.#socket) return;
      if (typeof event.data === 'string') this.#onFrame(event.data);
    });
    socket.addEventListener('close', () => {
      if (socket !== this.#socket) return;
      // A refused upgrade (401/403) also lands here, as code 1006: back off and try again.
      this.#socket = null;
      this.#ready.clear();
      if (this.#closed) return;
      this.#status = 'reconnecting';
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    // Full jitter: uniform in [0, min(cap, base * 2^attempt)).
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#connect();
    }, Math.random() * ceiling);
  }

  /** The network came back: skip the rest of the backoff wait. */
  #onBrowserOnline = (): void => {
    if (this.#closed || this.#socket || this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#connect();
  };

  #sendJoin(room: string): void {
    // On a re-join ask only for what we missed; on the first join, for the latest history.
    const afterSeq = this.#lastSeq[room];
    this.#sendFrame('join', afterSeq === undefined ? { room } : { room, afterSeq });
  }

  #transmit(message: PendingMessage): void {
    this.#sendFrame('message', { room: message.room, text: message.text, clientId: message.clientId });
  }

  #sendFrame(event: string, data: Record<string, unknown>): void {
    // If the socket is not open the frame is not lost: joins and pending messages are replayed
    // from #rooms and #pending on the next socket.
    if (this.#isOpen()) this.#socket?.send(JSON.stringify({ event, data }));
  }

  #onFrame(raw: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    const { event, data } = frame as { event?: unknown; data?: unknown };
    if (typeof event !== 'string' || !data || typeof data !== 'object') return;

    switch (event) {
      case 'message':
        this.#onMessage(data as ChatMessage);
        break;
      case 'joined':
        this.#onJoined(data as { room: string; lastSeq: number });
        break;
      case 'error':
        this.#onError(data as { code?: unknown; message?: unknown; ref?: unknown });
        break;
      default:
        // Unknown events are ignored so the server can add new ones.
        break;
    }
  }

  #onMessage(message: ChatMessage): void {
    if (typeof message.room !== 'string' || typeof message.seq !== 'number') return;
    const { room, seq } = message;

    if (message.clientId && this.#pending.some((p) => p.clientId === message.clientId)) {
      this.#pending = this.#pending.filter((p) => p.clientId !== message.clientId);
    }

    const list = this.#messages[room] ?? EMPTY_MESSAGES;
    const next = insertBySeq(list, message);
    if (next === list) return; // that seq is already here: replace nothing
    this.#messages = {
      ...this.#messages,
      [room]: next.length > MAX_MESSAGES_PER_ROOM ? next.slice(-MAX_MESSAGES_PER_ROOM) : next,
    };
    if (seq > (this.#lastSeq[room] ?? 0)) this.#lastSeq = { ...this.#lastSeq, [room]: seq };
  }

  #onJoined({ room, lastSeq }: { room: string; lastSeq: number }): void {
    if (typeof room !== 'string') return;
    this.#ready.add(room);
    // A working join proves the connection is healthy: the next drop starts the backoff over.
    this.#attempt = 0;
    // An empty room has no message to learn a seq from; remember the server's position
    // so a re-join still sends `afterSeq` (0) rather than asking for the latest history again.
    if (this.#lastSeq[room] === undefined && typeof lastSeq === 'number') {
      this.#lastSeq = { ...this.#lastSeq, [room]: lastSeq };
    }
    // The history is in, so any pending message that had been stored already was matched by
    // its clientId above; what is left was never stored. Send it (again) with the same clientId.
    for (const message of this.#pending) {
      if (message.room === room && message.failed === null) this.#transmit(message);
    }
  }

  #onError(data: { code?: unknown; message?: unknown; ref?: unknown }): void {
    const error: ChatError = {
      code: typeof data.code === 'string' ? data.code : 'unknown',
      message: typeof data.message === 'string' ? data.message : 'The server refused a frame',
      ref: typeof data.ref === 'string' ? data.ref : null,
    };
    this.#lastError = error;
    // For a `message` frame the server echoes our clientId as `ref`: mark that message failed.
    if (error.ref && this.#pending.some((p) => p.clientId === error.ref)) {
      this.#pending = this.#pending.map((p) =>
        p.clientId === error.ref ? { ...p, failed: error.message } : p,
      );
    }
  }
}

/** Insert by `seq`; returns `list` itself if that seq is already present. */
function insertBySeq(list: readonly ChatMessage[], message: ChatMessage): readonly ChatMessage[] {
  const last = list.at(-1);
  // The usual case, a live message after everything we have.
  if (last === undefined || last.seq < message.seq) return [...list, message];

  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].seq < message.seq) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo]?.seq === message.seq) return list;
  return [...list.slice(0, lo), message, ...list.slice(lo)];
}
