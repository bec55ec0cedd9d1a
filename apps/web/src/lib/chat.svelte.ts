import { api, type ChatMessage, type User } from './api';
import { preciseNow } from './clock';
import { RESTART_WINDOW_MS, restartDelay, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS } from './reconnect-policy';
import { ChatFrameReader } from './wire';

export type ChatStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

/** A message we sent whose `clientId` has not come back in a `message` frame yet. */
export interface PendingMessage {
  clientId: string;
  room: string;
  text: string;
  /** Local clock, epoch ms. */
  createdAt: number;
  /**
   * The server's `error` message if it refused this one for good (it can never be stored as it is,
   * or the server failed on it again and again). A failed message is not re-sent by itself and
   * holds nothing up; `retry` sends it again after the others.
   */
  failed: string | null;
  /** On its way on the current socket (sent and not answered yet, or stored and about to show). False: waiting its turn. */
  sending: boolean;
}

/** Why a room's outbox is waiting before it sends again. */
export type OutboxHoldReason =
  /** The server's rate limit: it said when to try again. */
  | 'rate_limited'
  /** The server could not store messages (database unreachable, or it failed): trying again with backoff. */
  | 'unavailable'
  /** The server refused a message as out of order: sending again from the oldest unstored one. */
  | 'out_of_order';

/** Where a room's outbox stands: what the composer tells the user. */
export interface OutboxState {
  /** On their way now. */
  sending: number;
  /** Not sent yet, or to be sent again: they go out in the order they were written. */
  waiting: number;
  /** Refused for good; shown with Retry and Discard. */
  failed: number;
  /**
   * Set from a refusal until the outbox has caught up: why, and until when (local epoch ms) it
   * waits before sending again; after that it sends again, one at a time at first.
   */
  hold: { reason: OutboxHoldReason; until: number } | null;
}

/**
 * What a socket did, for observers such as the metrics overlay (`observe`). `at` is the page's
 * clock (`preciseNow`) when it happened; for a frame, when the browser handed it to us.
 */
export type ChatSignal =
  | { type: 'open'; at: number }
  /** The current socket is gone (closed by the server, the network, or given up on by us). */
  | { type: 'close'; at: number; code: number }
  /** A `join` went out; `afterSeq` is set on a re-join that asks only for what was missed. */
  | { type: 'join'; at: number; room: string; afterSeq: number | undefined }
  /** Every parsed frame, whatever its event, before the connection acts on it. */
  | { type: 'frame'; at: number; event: string; data: Record<string, unknown> };

export type ChatObserver = (signal: ChatSignal) => void;

/** The last `error` frame. */
export interface ChatError {
  code: string;
  message: string;
  ref: string | null;
}

/** Where the older history of a room stands. */
export interface HistoryState {
  loading: boolean;
  /** The oldest message of the room is held (or the room is empty): nothing more to load. */
  atStart: boolean;
  /** Why the last page could not be loaded, if it could not. */
  error: string | null;
}

export interface ChatOptions {
  /** Defaults to `/ws` on this page's origin. */
  url?: string;
  /**
   * Called when the server closes the socket because the session token expired (4001).
   * Resolves whether the session was renewed: if so the socket reconnects at once.
   */
  onSessionExpired?: () => Promise<boolean>;
}

/** Same limit as the server: 1 to 4,000 characters after trimming. */
export const MAX_TEXT_LENGTH = 4000;

const BACKOFF_BASE_MS = WS_BACKOFF_BASE_MS;
const BACKOFF_CAP_MS = WS_BACKOFF_CAP_MS;
/** A message the server fails on (`internal`) this many times in a row is shown as failed. */
const MAX_SERVER_FAILURES = 5;
/** After a refusal the outbox sends one message, then doubles what it pipelines with each ack, up to this. */
const MAX_SEND_WINDOW = 1024;
/** Keep memory bounded in a long-open tab; older messages drop off the top. */
const MAX_MESSAGES_PER_ROOM = 1000;
/** Messages per `GET /api/rooms/:room/messages` page. */
const HISTORY_PAGE_SIZE = 50;
/** Application-level heartbeat (docs/protocol.md, `ping`). */
const PING_INTERVAL_MS = 20_000;
/** No frame at all for this long after a ping: the socket is dead, whatever the browser thinks. */
const PONG_TIMEOUT_MS = 10_000;
/** The server drops `typing` frames sent more often than this. */
const TYPING_SEND_INTERVAL_MS = 2_000;
/** A `typing` is shown this long unless another from the same user extends it. */
const TYPING_SHOW_MS = 5_000;
/** At most one `read` per room per this interval. */
const READ_INTERVAL_MS = 1_000;
/** Changes to messages older than the ones held, kept for a history page that is on its way. */
const MAX_ORPHAN_CHANGES_PER_ROOM = 200;

/** Close codes from docs/protocol.md, and the one we use to drop a silent socket ourselves. */
const CLOSE_SESSION_EXPIRED = 4001;
const CLOSE_SLOW_CONSUMER = 4008;
const CLOSE_NO_PONG = 4000;
/** The server instance is stopping (a deploy): reconnect soon, it or another will answer. */
const CLOSE_SERVICE_RESTART = 1012;

/** Frames whose errors are not worth a notice: they are background chatter, not user actions. */
const QUIET_REFS = new Set(['typing', 'read', 'ping', 'leave']);

const EMPTY_MESSAGES: readonly ChatMessage[] = [];
const EMPTY_PENDING: readonly PendingMessage[] = [];
const EMPTY_OUTBOX: OutboxState = { sending: 0, waiting: 0, failed: 0, hold: null };
const EMPTY_USERS: readonly User[] = [];

/** The part of a message an edit or a delete changes. */
type Change = Pick<ChatMessage, 'text' | 'editedAt' | 'deleted'>;

interface RoomHistory {
  loading: boolean;
  /** The server said `hasMore: false` for the oldest page we hold. */
  complete: boolean;
  error: string | null;
}

function defaultUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * One WebSocket to `/ws` and the chat state it feeds.
 *
 * Survives disconnects: it reconnects with exponential backoff and full jitter, re-joins every
 * room with `afterSeq` and `afterRev` (so the server sends exactly the messages and the edits
 * and deletes that were missed), and re-sends pending messages with the same `clientId` once
 * the room's history is in (so a message that was stored just before the drop is recognised in
 * the history instead of being sent twice).
 *
 * It notices a silent server with `ping`/`pong` (no frame within 10 s of a ping: reconnect), and
 * reconnects at once, without backoff, after 4008 (slow consumer) and, once the session has been
 * renewed, after 4001 (token expired).
 */
export class ChatConnection {
  #status = $state<ChatStatus>('connecting');
  // Raw state replaced wholesale on change: no deep proxies over long message lists.
  #messages = $state.raw<Record<string, readonly ChatMessage[]>>({});
  #lastSeq = $state.raw<Record<string, number>>({});
  #lastRev = $state.raw<Record<string, number>>({});
  /** The outbox, in the order the messages were written (per room, the order they are sent and stored). */
  #pending = $state.raw<readonly PendingMessage[]>([]);
  /** Rooms whose outbox waits before sending again. */
  #holds = $state.raw<Record<string, OutboxState['hold']>>({});
  #lastError = $state.raw<ChatError | null>(null);
  #history = $state.raw<Record<string, RoomHistory>>({});
  /** Who is in each joined room now; absent while unknown (not joined on this socket). */
  #presence = $state.raw<Record<string, readonly User[]>>({});
  #typing = $state.raw<Record<string, readonly User[]>>({});
  /** The highest `seq` we told the server we have read, per room. */
  #readSeq = $state.raw<Record<string, number>>({});
  #rttMs = $state<number | null>(null);
  #clockOffsetMs = $state<number | null>(null);
  /** The current socket's id from its `hello` (for `GET /api/metrics/connections/:id`). */
  #connectionId = $state<string | null>(null);
  readonly #observers = new Set<ChatObserver>();

  readonly #url: string;
  readonly #onSessionExpired: (() => Promise<boolean>) | undefined;
  #socket: WebSocket | null = null;
  /** Reads the socket's frames (wire.ts), with the room ids learned from `joining`. */
  readonly #frames = new ChatFrameReader();
  /** Rooms the user asked to join; re-joined on every new socket. */
  readonly #rooms = new Set<string>();
  /** Rooms whose `joined` arrived on the current socket: sending to them is allowed. */
  readonly #ready = new Set<string>();
  /**
   * Pending messages transmitted on the current socket and not answered yet, each with the `ref`
   * of its latest transmission: an answer to an earlier one (refused as out of order before we
   * sent it again) is stale and ignored.
   */
  readonly #inFlight = new Map<string, string>();
  #transmissions = 0;
  /** Pending messages the server has acked (stored) whose `message` frame has not been shown yet. */
  readonly #acked = new Set<string>();
  /** Per room: how many messages may be on their way at once (unlimited until a refusal). */
  readonly #window = new Map<string, number>();
  /** Per room: refusals in a row that back off (`unavailable`, `internal`, `out_of_order`). */
  readonly #refusals = new Map<string, number>();
  /** Per message: `internal` failures in a row. */
  readonly #serverFailures = new Map<string, number>();
  /** The current socket has proved itself (a `joined` or a `pong` came back). */
  #healthy = false;
  #attempt = 0;
  /**
   * Until when (epoch ms) reconnects follow the deploy policy after a 1012: every 0.5–1 s, not
   * the growing backoff, so the tab is live within about a second of the server answering.
   */
  #restartUntil: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  #pingId = 0;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongDeadline: ReturnType<typeof setTimeout> | undefined;

  readonly #typingSentAt = new Map<string, number>();
  /** Expiry of each shown `typing`, keyed by room and user id. */
  readonly #typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** The `read` position each room is waiting to send (throttled). */
  readonly #readWanted = new Map<string, number>();
  readonly #readSentAt = new Map<string, number>();
  readonly #readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per room: the automatic re-send once a hold is over. */
  readonly #resendTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per room: the latest change to each message older than the ones held, by `seq`. */
  readonly #orphanChanges = new Map<string, Map<number, Change>>();

  constructor(options: ChatOptions = {}) {
    this.#url = options.url ?? defaultUrl();
    this.#onSessionExpired = options.onSessionExpired;
    window.addEventListener('online', this.#onBrowserOnline);
    this.#connect();
  }

  get status(): ChatStatus {
    return this.#status;
  }

  get lastError(): ChatError | null {
    return this.#lastError;
  }

  /** Round trip of the latest `ping`/`pong`, in ms; null before the first `pong`. */
  get rttMs(): number | null {
    return this.#rttMs;
  }

  /**
   * Estimate of the server's clock minus ours, in ms, from the latest `pong`:
   * `serverTime - (t + rtt / 2)`. Null before the first `pong`.
   */
  get clockOffsetMs(): number | null {
    return this.#clockOffsetMs;
  }

  /** The current socket's id from its `hello`; null while there is no open socket. */
  get connectionId(): string | null {
    return this.#connectionId;
  }

  /**
   * Watch what the socket does (opens, closes, joins, every frame) without changing it.
   * Returns the function that stops watching.
   */
  observe(observer: ChatObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Send a `ping` now (a clock probe); its `pong` reaches observers as a frame. Returns the
   * ping's id, or null when no socket is open.
   */
  ping(): number | null {
    const id = ++this.#pingId;
    return this.#sendFrame('ping', { id, t: preciseNow() }, `ping:${id}`) ? id : null;
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

  /** The highest `seq` sent in a `read` for a room. */
  readSeq(room: string): number | undefined {
    return this.#readSeq[room];
  }

  pending(room: string): readonly PendingMessage[] {
    const list = this.#pending.filter((p) => p.room === room);
    return list.length ? list : EMPTY_PENDING;
  }

  /** How many of a room's messages are on their way, waiting or failed, and why it waits. */
  outbox(room: string): OutboxState {
    const hold = this.#holds[room] ?? null;
    let sending = 0;
    let waiting = 0;
    let failed = 0;
    for (const p of this.#pending) {
      if (p.room !== room) continue;
      if (p.failed !== null) failed += 1;
      else if (p.sending) sending += 1;
      else waiting += 1;
    }
    return sending + waiting + failed === 0 && hold === null ? EMPTY_OUTBOX : { sending, waiting, failed, hold };
  }

  /** Who is in the room now, from `presence`; null while unknown. */
  presence(room: string): readonly User[] | null {
    return this.#presence[room] ?? null;
  }

  /** Others typing in the room now (each shown for 5 s after their latest `typing`). */
  typing(room: string): readonly User[] {
    return this.#typing[room] ?? EMPTY_USERS;
  }

  history(room: string): HistoryState {
    const state = this.#history[room];
    const list = this.messages(room);
    const atStart =
      state?.complete === true || list[0]?.seq === 1 || (list.length === 0 && this.#lastSeq[room] === 0);
    return { loading: state?.loading ?? false, atStart, error: state?.error ?? null };
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
    if (this.#isOpen()) this.#sendJoin(room);
  }

  /** Stop receiving a room. What is held stays; a later `join` continues after it. */
  leave(room: string): void {
    if (!this.#rooms.delete(room)) return;
    this.#ready.delete(room);
    this.#sendFrame('leave', { room }, `leave:${room}`);
    this.#forgetLiveState(room);
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
      sending: false,
    };
    this.#pending = [...this.#pending, message];
    this.join(room);
    this.#flushPending(room);
    return true;
  }

  /**
   * Try a failed message again, with its original `clientId`. It joins the end of the outbox: the
   * messages written after it went on without it, so it is sent (and stored) after them. Sending it
   * ahead of messages already on their way could let a later one overtake an earlier one.
   */
  retry(clientId: string): void {
    const message = this.#pending.find((p) => p.clientId === clientId);
    if (!message || message.failed === null) return;
    this.#serverFailures.delete(clientId);
    this.#pending = [...this.#pending.filter((p) => p !== message), { ...message, failed: null, sending: false }];
    this.#flushPending(message.room);
  }

  /** Drop a failed message from the outbox. */
  discard(clientId: string): void {
    const message = this.#pending.find((p) => p.clientId === clientId);
    if (!message || message.failed === null) return;
    this.#forgetPending(clientId);
  }

  /**
   * Ask the server to change the text of one of our messages; the change shows when its
   * `message-edited` comes back. Returns false (and sends nothing) for empty or too long text,
   * or when the room is not joined on an open socket right now.
   */
  edit(room: string, seq: number, text: string): boolean {
    const trimmed = text.trim();
    if (!trimmed || trimmed.length > MAX_TEXT_LENGTH || !this.#ready.has(room)) return false;
    return this.#sendFrame('edit', { room, seq, text: trimmed }, `edit:${room}:${seq}`);
  }

  /** Ask the server to delete one of our messages. False when the room is not joined right now. */
  remove(room: string, seq: number): boolean {
    if (!this.#ready.has(room)) return false;
    return this.#sendFrame('delete', { room, seq }, `delete:${room}:${seq}`);
  }

  /** The user is typing in a room: tell the others, at most once every 2 s. */
  notifyTyping(room: string): void {
    if (!this.#ready.has(room)) return;
    const now = Date.now();
    if (now - (this.#typingSentAt.get(room) ?? -Infinity) < TYPING_SEND_INTERVAL_MS) return;
    if (this.#sendFrame('typing', { room }, `typing:${room}`)) this.#typingSentAt.set(room, now);
  }

  /** The user has seen a room up to `seq`. Sent at most once a second per room, the latest position winning. */
  markRead(room: string, seq: number): void {
    if (!(seq > 0)) return;
    const wanted = Math.max(this.#readWanted.get(room) ?? 0, seq);
    if (wanted <= (this.#readSeq[room] ?? 0)) return;
    this.#readWanted.set(room, wanted);
    this.#flushRead(room);
  }

  /** Load the page of history before the oldest message held. No-op while loading or at the start. */
  async loadOlder(room: string): Promise<void> {
    const { loading, atStart } = this.history(room);
    if (loading || atStart) return;
    const before = this.messages(room)[0]?.seq;
    if (before === undefined) return; // the join's history is not in yet
    this.#setHistory(room, { loading: true, complete: false, error: null });

    let page: { messages: ChatMessage[]; hasMore: boolean };
    try {
      page = await api.roomMessages(room, before, HISTORY_PAGE_SIZE);
    } catch (err) {
      if (!this.#closed) {
        this.#setHistory(room, { loading: false, complete: false, error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    if (this.#closed) return;

    const list = this.messages(room);
    // Live messages may have pushed the oldest ones out meanwhile: a page that no longer joins up
    // would leave a gap, so drop it and let the next scroll ask again.
    if (list[0]?.seq !== before) {
      this.#setHistory(room, { loading: false, complete: false, error: null });
      return;
    }
    const older: ChatMessage[] = [];
    for (const raw of [...page.messages].sort((a, b) => a.seq - b.seq)) {
      if (typeof raw?.seq !== 'number' || raw.seq >= before || older.at(-1)?.seq === raw.seq) continue;
      older.push(this.#withOrphanChange(room, normalize({ ...raw, room })));
    }
    this.#messages = { ...this.#messages, [room]: [...older, ...list] };
    // An empty page that claims more would have us ask again forever.
    this.#setHistory(room, { loading: false, complete: !page.hasMore || older.length === 0, error: null });
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
    this.#stopHeartbeat();
    for (const timers of [this.#typingTimers, this.#readTimers, this.#resendTimers]) {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    }
    const socket = this.#socket;
    this.#socket = null;
    this.#ready.clear();
    this.#landed();
    socket?.close(1000);
    this.#status = 'offline';
    this.#connectionId = null;
    this.#observers.clear();
  }

  #emit(signal: ChatSignal): void {
    for (const observer of this.#observers) {
      try {
        observer(signal);
      } catch (err) {
        reportError(err);
      }
    }
  }

  #isOpen(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  #connect(): void {
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    this.#ready.clear();
    this.#landed();
    this.#healthy = false;

    // Every handler first checks that its socket is still the current one,
    // so a late event from a replaced socket cannot touch the state.
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      this.#status = 'online';
      this.#emit({ type: 'open', at: preciseNow() });
      this.#startHeartbeat(socket);
      for (const room of this.#rooms) this.#sendJoin(room);
    });
    socket.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (socket !== this.#socket) return;
      const at = preciseNow();
      // Any frame at all proves the server is alive.
      this.#clearPongDeadline();
      if (typeof event.data === 'string') this.#onFrame(event.data, at);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (socket !== this.#socket) return;
      // A refused upgrade (401/403) also lands here, as code 1006: back off and try again.
      this.#onSocketGone(event.code);
    });
  }

  /** The current socket is gone (closed by the server, or given up on by us): decide how to come back. */
  #onSocketGone(code: number): void {
    const wasHealthy = this.#healthy;
    this.#socket = null;
    this.#connectionId = null;
    this.#ready.clear();
    this.#landed();
    this.#stopHeartbeat();
    // Presence and typing are about the live socket; the re-join sends fresh ones.
    this.#presence = {};
    this.#clearTyping();
    if (this.#closed) return;
    this.#status = 'reconnecting';
    this.#emit({ type: 'close', at: preciseNow(), code });

    // A socket that never proved itself gets the backoff whatever its code, so a server that
    // keeps closing new sockets at once cannot make us spin.
    if (code === CLOSE_SESSION_EXPIRED && this.#onSessionExpired) {
      this.#renewThenReconnect(this.#onSessionExpired, wasHealthy);
    } else if (code === CLOSE_SLOW_CONSUMER && wasHealthy) {
      this.#connect();
    } else if (this.#restarting(code, wasHealthy)) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#closed) this.#connect();
      }, restartDelay());
    } else {
      this.#scheduleReconnect();
    }
  }

  /**
   * Whether this loss follows a deploy: a 1012 from a socket that was working starts a window
   * (60 s) in which every failed try is retried on the deploy policy. A server that answers
   * every new socket with 1012 gets the ordinary backoff once the window is over.
   */
  #restarting(code: number, wasHealthy: boolean): boolean {
    const now = Date.now();
    if (code === CLOSE_SERVICE_RESTART && wasHealthy) this.#restartUntil = now + RESTART_WINDOW_MS;
    if (this.#restartUntil !== null && now < this.#restartUntil) return true;
    this.#restartUntil = null;
    return false;
  }

  #renewThenReconnect(renew: () => Promise<boolean>, immediately: boolean): void {
    renew().then(
      (renewed) => {
        // Not renewed: either the user is being signed out (and `close()` follows), or the
        // server could not be reached, in which case the backoff keeps trying.
        if (this.#closed || this.#socket || this.#timer !== undefined) return;
        if (renewed && immediately) this.#connect();
        else this.#scheduleReconnect();
      },
      () => {
        if (!this.#closed && !this.#socket && this.#timer === undefined) this.#scheduleReconnect();
      },
    );
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

  #startHeartbeat(socket: WebSocket): void {
    this.#stopHeartbeat();
    this.#pingTimer = setInterval(() => this.#ping(socket), PING_INTERVAL_MS);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#clearPongDeadline();
  }

  #ping(socket: WebSocket): void {
    if (socket !== this.#socket) return;
    const id = ++this.#pingId;
    if (!this.#sendFrame('ping', { id, t: preciseNow() }, `ping:${id}`)) return;
    // One deadline at a time: it runs from the oldest unanswered ping.
    this.#pongDeadline ??= setTimeout(() => this.#onSilent(socket), PONG_TIMEOUT_MS);
  }

  #clearPongDeadline(): void {
    clearTimeout(this.#pongDeadline);
    this.#pongDeadline = undefined;
  }

  /** Nothing came back after a ping: the link is dead even if the browser has not noticed. */
  #onSilent(socket: WebSocket): void {
    this.#pongDeadline = undefined;
    if (socket !== this.#socket) return;
    // Detach before closing: on a dead link the close handshake can take a long time to give up,
    // and the late `close` event then finds another socket current and is ignored.
    this.#onSocketGone(CLOSE_NO_PONG);
    socket.close(CLOSE_NO_PONG, 'no pong');
  }

  #sendJoin(room: string): void {
    // On a re-join ask only for what we missed; on the first join, for the latest history.
    const afterSeq = this.#lastSeq[room];
    const afterRev = this.#lastRev[room];
    const data: Record<string, unknown> = { room };
    if (afterSeq !== undefined) {
      data.afterSeq = afterSeq;
      if (afterRev !== undefined) data.afterRev = afterRev;
    }
    if (this.#sendFrame('join', data, `join:${room}`)) {
      this.#emit({ type: 'join', at: preciseNow(), room, afterSeq: data.afterSeq as number | undefined });
    }
  }

  /**
   * Send the room's outbox, strictly in the order it was written: every message not on its way
   * already, up to the send window. Nothing is ever sent ahead of an earlier message that is not
   * acked or on its way on this socket, so the server's gate (docs/protocol.md, `out_of_order`)
   * can hold back everything behind a refused one. The first message sent with nothing earlier
   * unacked carries `first: true`: it cannot overtake anything, so it may pass that gate.
   */
  #flushPending(room: string): void {
    if (!this.#ready.has(room)) return;
    // A hold stays (for the composer to say why things go slowly) until the outbox has caught up.
    const hold = this.#holds[room];
    if (hold && hold.until > Date.now()) {
      this.#armResend(room, hold.until);
      return;
    }
    const window = this.#window.get(room) ?? Infinity;
    let onTheirWay = 0;
    let head = true;
    const sent = new Set<string>();
    for (const message of this.#pending) {
      if (message.room !== room || message.failed !== null || this.#acked.has(message.clientId)) continue;
      if (this.#inFlight.has(message.clientId)) {
        onTheirWay += 1;
        head = false;
        continue;
      }
      if (onTheirWay >= window) break;
      const ref = `${message.clientId}~${++this.#transmissions}`;
      const data: Record<string, unknown> = { room, text: message.text, clientId: message.clientId };
      if (head) data.first = true;
      if (!this.#sendFrame('message', data, ref)) break;
      this.#inFlight.set(message.clientId, ref);
      onTheirWay += 1;
      head = false;
      sent.add(message.clientId);
    }
    if (sent.size) this.#pending = this.#pending.map((p) => (sent.has(p.clientId) && !p.sending ? { ...p, sending: true } : p));
  }

  /**
   * The server refused `message` in a way it will take again later: it and everything after it in
   * the room go back to waiting (the server refuses what we pipelined behind it as out of order),
   * and after `waitMs` the outbox starts again from it, one message at a time at first.
   */
  #holdFrom(message: PendingMessage, reason: OutboxHoldReason, waitMs: number): void {
    const { room } = message;
    let from = false;
    const back = new Set<string>();
    for (const p of this.#pending) {
      if (p.room !== room) continue;
      if (p.clientId === message.clientId) from = true;
      if (!from || this.#acked.has(p.clientId)) continue;
      this.#inFlight.delete(p.clientId);
      back.add(p.clientId);
    }
    this.#pending = this.#pending.map((p) => (back.has(p.clientId) && p.sending ? { ...p, sending: false } : p));
    this.#window.set(room, 1);
    if (waitMs > 0) {
      this.#setHold(room, { reason, until: Date.now() + waitMs });
      this.#armResend(room, Date.now() + waitMs);
    } else {
      this.#flushPending(room);
    }
  }

  /** Backoff with jitter for refusals that do not say when to come back. */
  #backoffMs(room: string): number {
    const refusals = (this.#refusals.get(room) ?? 0) + 1;
    this.#refusals.set(room, refusals);
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (refusals - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  #setHold(room: string, hold: OutboxState['hold']): void {
    if (hold) {
      this.#holds = { ...this.#holds, [room]: hold };
    } else if (room in this.#holds) {
      const { [room]: _over, ...rest } = this.#holds;
      this.#holds = rest;
    }
  }

  /** The socket is gone (or replaced): nothing is on its way any more. What was acked stays acked. */
  #landed(): void {
    this.#inFlight.clear();
    if (this.#pending.some((p) => p.sending && !this.#acked.has(p.clientId))) {
      this.#pending = this.#pending.map((p) => (p.sending && !this.#acked.has(p.clientId) ? { ...p, sending: false } : p));
    }
  }

  #forgetPending(clientId: string): void {
    const room = this.#pending.find((p) => p.clientId === clientId)?.room;
    this.#pending = this.#pending.filter((p) => p.clientId !== clientId);
    this.#inFlight.delete(clientId);
    this.#acked.delete(clientId);
    this.#serverFailures.delete(clientId);
    // Caught up: the next message goes out at once and pipelined again.
    if (room !== undefined && !this.#pending.some((p) => p.room === room && p.failed === null)) {
      this.#window.delete(room);
      this.#setHold(room, null);
    }
  }

  #armResend(room: string, at: number): void {
    clearTimeout(this.#resendTimers.get(room));
    this.#resendTimers.set(
      room,
      setTimeout(() => {
        this.#resendTimers.delete(room);
        // Not joined right now: the next `joined` flushes instead.
        this.#flushPending(room);
      }, Math.max(0, at - Date.now())),
    );
  }

  #flushRead(room: string): void {
    const seq = this.#readWanted.get(room);
    if (seq === undefined || !this.#ready.has(room) || this.#readTimers.has(room)) return;
    const wait = (this.#readSentAt.get(room) ?? -Infinity) + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.#readTimers.set(
        room,
        setTimeout(() => {
          this.#readTimers.delete(room);
          this.#flushRead(room);
        }, wait),
      );
      return;
    }
    if (!this.#sendFrame('read', { room, seq }, `read:${room}`)) return;
    this.#readWanted.delete(room);
    this.#readSentAt.set(room, Date.now());
    this.#readSeq = { ...this.#readSeq, [room]: Math.max(seq, this.#readSeq[room] ?? 0) };
  }

  /** Returns whether the frame went out. */
  #sendFrame(event: string, data: Record<string, unknown>, ref?: string): boolean {
    // If the socket is not open the frame is not lost where it matters: joins and pending
    // messages are replayed from #rooms and #pending on the next socket, reads on the next `joined`.
    if (!this.#isOpen() || !this.#socket) return false;
    this.#socket.send(JSON.stringify(ref === undefined ? { event, data } : { event, data, ref }));
    return true;
  }

  #onFrame(raw: string, at: number): void {
    const frame = this.#frames.read(raw);
    if (!frame) return;
    const { event, data: payload } = frame;
    if (this.#observers.size) this.#emit({ type: 'frame', at, event, data: payload });

    switch (event) {
      case 'message':
        this.#onMessage(payload as unknown as ChatMessage);
        break;
      case 'ack':
        this.#onAck(payload);
        break;
      case 'joined':
        this.#onJoined(payload);
        break;
      case 'left':
        this.#onLeft(payload);
        break;
      case 'message-edited':
        this.#onChange(payload, 'edited');
        break;
      case 'message-deleted':
        this.#onChange(payload, 'deleted');
        break;
      case 'presence':
        this.#onPresence(payload);
        break;
      case 'typing':
        this.#onTyping(payload);
        break;
      case 'pong':
        this.#onPong(payload);
        break;
      case 'hello':
        if (typeof payload.connectionId === 'string') this.#connectionId = payload.connectionId;
        break;
      case 'error':
        this.#onError(payload);
        break;
      default:
        // Unknown events are ignored so the server can add new ones.
        break;
    }
  }

  #onMessage(raw: ChatMessage): void {
    if (typeof raw.room !== 'string' || typeof raw.seq !== 'number') return;
    const message = normalize(raw);
    const { room, seq } = message;

    if (message.clientId && this.#pending.some((p) => p.clientId === message.clientId)) this.#forgetPending(message.clientId);
    // Whoever just sent a message has stopped typing it.
    if (message.author && this.#typing[room]?.some((u) => u.id === message.author.id)) {
      this.#removeTyping(room, message.author.id);
    }

    const list = this.#messages[room] ?? EMPTY_MESSAGES;
    const next = insertBySeq(list, message);
    if (next === list) return; // that seq is already here: replace nothing
    if (next.length > MAX_MESSAGES_PER_ROOM) {
      this.#messages = { ...this.#messages, [room]: next.slice(-MAX_MESSAGES_PER_ROOM) };
      // The oldest ones dropped off: there is history to load again.
      const history = this.#history[room];
      if (history?.complete) this.#setHistory(room, { ...history, complete: false });
    } else {
      this.#messages = { ...this.#messages, [room]: next };
    }
    if (seq > (this.#lastSeq[room] ?? 0)) this.#lastSeq = { ...this.#lastSeq, [room]: seq };
  }

  #onAck(data: Record<string, unknown>): void {
    const { clientId, seq, room } = data;
    if (typeof clientId !== 'string' || typeof seq !== 'number' || typeof room !== 'string') return;
    // Stored (by whichever transmission): the server takes more again, so pipeline more.
    this.#refusals.delete(room);
    const window = this.#window.get(room);
    if (window !== undefined) {
      if (window * 2 >= MAX_SEND_WINDOW) this.#window.delete(room);
      else this.#window.set(room, window * 2);
    }
    if (!this.#window.has(room)) this.#setHold(room, null);
    if (this.#pending.some((p) => p.clientId === clientId)) {
      // A resend of a message stored before a drop is acked without a broadcast. If we hold the
      // room up to its seq the message is already shown (from the re-join's history): drop the copy.
      if (seq <= (this.#lastSeq[room] ?? 0)) {
        this.#forgetPending(clientId);
      } else {
        this.#inFlight.delete(clientId);
        this.#serverFailures.delete(clientId);
        this.#acked.add(clientId);
      }
    }
    if (window !== undefined) this.#flushPending(room);
  }

  #onJoined(data: Record<string, unknown>): void {
    const { room, lastSeq, lastRev } = data;
    if (typeof room !== 'string') return;
    this.#ready.add(room);
    // A working join proves the connection is healthy: the next drop starts the backoff over.
    this.#healthy = true;
    this.#attempt = 0;
    this.#restartUntil = null;
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
    // The history is in, so any pending message that had been stored already was matched by
    // its clientId above; what is left was never stored. Send it (again) with the same clientId.
    this.#flushPending(room);
    this.#flushRead(room);
  }

  #onLeft(data: Record<string, unknown>): void {
    const { room } = data;
    // A `left` that crosses a new `join` of the same room must not undo it.
    if (typeof room !== 'string' || this.#rooms.has(room)) return;
    this.#ready.delete(room);
    this.#forgetLiveState(room);
  }

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

  #onPresence(data: Record<string, unknown>): void {
    const { room, users } = data;
    if (typeof room !== 'string' || !Array.isArray(users)) return;
    const list = users.filter(isUser);
    this.#presence = { ...this.#presence, [room]: list };
  }

  #onTyping(data: Record<string, unknown>): void {
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
  }

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

  /** Presence and typing of a room we no longer receive. */
  #forgetLiveState(room: string): void {
    if (room in this.#presence) {
      const { [room]: _gone, ...rest } = this.#presence;
      this.#presence = rest;
    }
    for (const user of this.#typing[room] ?? EMPTY_USERS) this.#removeTyping(room, user.id);
  }

  #onPong(data: Record<string, unknown>): void {
    const { t, serverTime } = data;
    if (typeof t !== 'number' || typeof serverTime !== 'number') return;
    const rtt = preciseNow() - t;
    if (!(rtt >= 0)) return;
    this.#healthy = true;
    this.#rttMs = rtt;
    // The server read its clock about half a round trip after we sent.
    this.#clockOffsetMs = serverTime - (t + rtt / 2);
  }

  #onError(data: Record<string, unknown>): void {
    const error: ChatError = {
      code: typeof data.code === 'string' ? data.code : 'unknown',
      message: typeof data.message === 'string' ? data.message : 'The server refused a frame',
      ref: typeof data.ref === 'string' ? data.ref : null,
    };

    // A `message` frame goes out with the ref `clientId~transmission`, which the server echoes.
    const cut = error.ref?.lastIndexOf('~') ?? -1;
    if (error.ref !== null && cut > 0) {
      const message = this.#pending.find((p) => p.clientId === error.ref!.slice(0, cut));
      // Already shown, discarded, or an answer to a transmission we have sent again since.
      if (!message || this.#inFlight.get(message.clientId) !== error.ref) return;
      this.#onRefused(message, error, data);
      return;
    }

    const [kind, room] = (error.ref ?? '').split(':');
    if (QUIET_REFS.has(kind)) return;
    // A room that does not exist: stop asking for it on every reconnect.
    if (kind === 'join' && error.code === 'room_not_found' && room) this.#rooms.delete(room);
    this.#lastError = error;
  }

  /** The server refused the latest transmission of `message`. */
  #onRefused(message: PendingMessage, error: ChatError, data: Record<string, unknown>): void {
    this.#inFlight.delete(message.clientId);
    switch (error.code) {
      case 'rate_limited': {
        // Not stored: send it again (same clientId) when the server allows, and the rest after it.
        const wait = typeof data.retryAfterMs === 'number' && data.retryAfterMs >= 0 ? Math.min(data.retryAfterMs, 60_000) : 1000;
        this.#holdFrom(message, 'rate_limited', wait);
        return;
      }
      case 'unavailable':
        this.#holdFrom(message, 'unavailable', this.#backoffMs(message.room));
        return;
      case 'out_of_order':
        // Normally we stopped pipelining when the earlier refusal came back, and this answer is
        // to a transmission superseded since. If not, start again from the oldest unstored one.
        this.#holdFrom(message, 'out_of_order', this.#backoffMs(message.room));
        return;
      case 'internal': {
        // The server failed on it; it may work next time. Not forever: then it is shown as failed.
        const failures = (this.#serverFailures.get(message.clientId) ?? 0) + 1;
        this.#serverFailures.set(message.clientId, failures);
        if (failures < MAX_SERVER_FAILURES) {
          this.#holdFrom(message, 'unavailable', this.#backoffMs(message.room));
          return;
        }
        this.#fail(message, error);
        // The server holds back what we pipelined behind it; send those again, from the new head.
        this.#holdFrom(message, 'out_of_order', 0);
        return;
      }
      default:
        // A verdict on the message itself (invalid, room_not_found...): it will never be stored
        // as it is, so it holds nothing up. The user sees it, with Retry and Discard.
        this.#fail(message, error);
    }
  }

  #fail(message: PendingMessage, error: ChatError): void {
    this.#pending = this.#pending.map((p) => (p.clientId === message.clientId ? { ...p, failed: error.message, sending: false } : p));
    this.#lastError = error;
  }

  #setHistory(room: string, state: RoomHistory): void {
    this.#history = { ...this.#history, [room]: state };
  }

  #rememberOrphanChange(room: string, seq: number, change: Change): void {
    let changes = this.#orphanChanges.get(room);
    if (!changes) this.#orphanChanges.set(room, (changes = new Map()));
    const previous = changes.get(seq);
    changes.delete(seq); // re-insert: the map's order is the age of the latest change
    changes.set(seq, previous?.deleted ? previous : change);
    if (changes.size > MAX_ORPHAN_CHANGES_PER_ROOM) {
      const oldest = changes.keys().next();
      if (!oldest.done) changes.delete(oldest.value);
    }
  }

  #withOrphanChange(room: string, message: ChatMessage): ChatMessage {
    const changes = this.#orphanChanges.get(room);
    const change = changes?.get(message.seq);
    if (!changes || !change) return message;
    changes.delete(message.seq);
    return message.deleted ? message : { ...message, ...change };
  }
}

/** Fill in the fields an older server may leave out, and blank the text of a deleted message. */
function normalize(message: ChatMessage): ChatMessage {
  const deleted = message.deleted === true;
  return {
    ...message,
    text: deleted ? '' : typeof message.text === 'string' ? message.text : '',
    editedAt: typeof message.editedAt === 'string' ? message.editedAt : null,
    deleted,
  };
}

function isUser(value: unknown): value is User {
  if (!value || typeof value !== 'object') return false;
  const { id, username } = value as { id?: unknown; username?: unknown };
  return typeof id === 'number' && typeof username === 'string';
}

function typingKey(room: string, userId: number): string {
  return `${room}\n${userId}`;
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
