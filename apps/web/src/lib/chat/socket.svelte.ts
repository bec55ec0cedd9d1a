import { preciseNow } from '../clock';
import { Backoff, clientFrame, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS, WsCloseCode, type ClientEvent, type ClientFrames } from '@rt/protocol';
import { ChatFrameReader } from '../wire';

export type ChatStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

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

/** An `error` frame, or a refusal a feature reports (`reportError`). */
export interface ChatError {
  code: string;
  message: string;
  ref: string | null;
}

/** One frame of the type it was registered for (`on`); `at` is when the browser handed it to us. */
export type FrameHandler = (data: Record<string, unknown>, at: number) => void;

/**
 * A feature's say on an `error` frame: true when it was about the feature's own frame and is
 * dealt with (not shown as `lastError`). Claims are asked in registration order until one takes it.
 */
export type ErrorClaim = (error: ChatError, data: Record<string, unknown>) => boolean;

/** What a feature does when the socket changes state. Every hook is optional. */
export interface SocketLifecycle {
  /** A new socket is open: (re)send what the server must hear first, such as joins. */
  open?(): void;
  /** The socket is gone (or replaced): nothing sent on it is on its way any more. */
  down?(): void;
  /** `close()`: stop for good, clear every timer. */
  closed?(): void;
}

/** The part of a browser `WebSocket` the socket uses; specs hand in a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
}

export interface ChatSocketOptions {
  /** Defaults to `/ws` on this page's origin. */
  url?: string;
  /**
   * Called when the server closes the socket because the session token expired (4001).
   * Resolves whether the session was renewed: if so the socket reconnects at once.
   */
  onSessionExpired?: () => Promise<boolean>;
  /** Opens a socket. Defaults to the browser's `WebSocket`. */
  createSocket?: (url: string) => WebSocketLike;
  /** The reconnect waits' randomness. Defaults to `Math.random`. */
  random?: () => number;
}

/** Application-level heartbeat (docs/protocol.md, `ping`). */
export const PING_INTERVAL_MS = 20_000;
/** No frame at all for this long after a ping: the socket is dead, whatever the browser thinks. */
export const PONG_TIMEOUT_MS = 10_000;

/** The close code we drop a silent socket with ourselves (the server's are WsCloseCode, @rt/protocol). */
export const CLOSE_NO_PONG = 4000;

const OPEN = 1;

function defaultUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * One WebSocket to `/ws`, kept up; what its frames mean is up to the features plugged into it.
 *
 * It reconnects with `Backoff` (full jitter from 0.5 s to 10 s; on the deploy pace for a minute
 * after a 1012 from a socket that was working), at once after 4008 (slow consumer) and, once the
 * session has been renewed, after 4001 (token expired). A socket that never proved itself gets
 * the backoff whatever its code, so a server that keeps closing new sockets cannot make us spin.
 * It notices a silent server with `ping`/`pong` (no frame within 10 s of a ping: reconnect).
 *
 * Features register a handler per frame type (`on`), lifecycle hooks (`lifecycle`) and a claim
 * on `error` frames (`claimErrors`); handlers of one type run in the order they were registered.
 * Frames sent while no socket is open are not queued: each feature replays what matters on
 * `open` (joins) or when its room is joined again (the outbox, reads).
 */
export class ChatSocket {
  #status = $state<ChatStatus>('connecting');
  #lastError = $state.raw<ChatError | null>(null);
  #rttMs = $state<number | null>(null);
  #clockOffsetMs = $state<number | null>(null);
  /** The current socket's id from its `hello` (for `GET /api/metrics/connections/:id`). */
  #connectionId = $state<string | null>(null);

  readonly #url: string;
  readonly #onSessionExpired: (() => Promise<boolean>) | undefined;
  readonly #createSocket: (url: string) => WebSocketLike;
  readonly #backoff: Backoff;
  readonly #handlers = new Map<string, FrameHandler[]>();
  readonly #lifecycles: SocketLifecycle[] = [];
  readonly #claims: ErrorClaim[] = [];
  readonly #observers = new Set<ChatObserver>();
  /** Reads the socket's frames (wire.ts), with the room ids learned from `joining`. */
  readonly #frames = new ChatFrameReader();

  #socket: WebSocketLike | null = null;
  /** The current socket has proved itself (a feature said so, or a `pong` came back). */
  #healthy = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #started = false;
  #closed = false;

  #pingId = 0;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongDeadline: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ChatSocketOptions = {}) {
    this.#url = options.url ?? defaultUrl();
    this.#onSessionExpired = options.onSessionExpired;
    this.#createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.#backoff = new Backoff({ baseMs: WS_BACKOFF_BASE_MS, capMs: WS_BACKOFF_CAP_MS, random: options.random });
    this.on('pong', this.#onPong);
    this.on('hello', (data) => {
      if (typeof data.connectionId === 'string') this.#connectionId = data.connectionId;
    });
    this.on('error', this.#onError);
    this.claimErrors((error) => error.ref?.startsWith('ping:') === true);
  }

  get status(): ChatStatus {
    return this.#status;
  }

  /** The last `error` frame no feature claimed, or the last refusal a feature reported. */
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

  get isOpen(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  /** Open the first socket, once the features are plugged in. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    if (typeof window !== 'undefined') window.addEventListener('online', this.#onBrowserOnline);
    this.#connect();
  }

  /** Handle every frame of one type. Returns the function that stops handling it. */
  on(event: string, handler: FrameHandler): () => void {
    const list = this.#handlers.get(event) ?? [];
    list.push(handler);
    this.#handlers.set(event, list);
    return () => {
      const at = list.indexOf(handler);
      if (at !== -1) list.splice(at, 1);
    };
  }

  lifecycle(hooks: SocketLifecycle): () => void {
    this.#lifecycles.push(hooks);
    return () => {
      const at = this.#lifecycles.indexOf(hooks);
      if (at !== -1) this.#lifecycles.splice(at, 1);
    };
  }

  claimErrors(claim: ErrorClaim): () => void {
    this.#claims.push(claim);
    return () => {
      const at = this.#claims.indexOf(claim);
      if (at !== -1) this.#claims.splice(at, 1);
    };
  }

  /**
   * Watch what the socket does (opens, closes, joins, every frame) without changing it.
   * Returns the function that stops watching.
   */
  observe(observer: ChatObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Tell the observers (a feature's own signal, such as a `join` going out). */
  emit(signal: ChatSignal): void {
    for (const observer of this.#observers) {
      try {
        observer(signal);
      } catch (err) {
        reportError(err);
      }
    }
  }

  /** Send one frame. Returns whether it went out (false while no socket is open). */
  send<E extends ClientEvent>(event: E, data: ClientFrames[E], ref?: string): boolean {
    if (!this.isOpen || !this.#socket) return false;
    this.#socket.send(clientFrame(event, data, ref));
    return true;
  }

  /**
   * The current socket works (a `joined` came back): the next drop starts the backoff over, and a
   * deploy's retry window is over.
   */
  markHealthy(): void {
    this.#healthy = true;
    this.#backoff.succeeded();
  }

  /** Show a refusal to the user (a feature's verdict on one of its frames). */
  reportError(error: ChatError): void {
    this.#lastError = error;
  }

  dismissError(): void {
    this.#lastError = null;
  }

  /**
   * Send a `ping` now (a clock probe); its `pong` reaches observers as a frame. Returns the
   * ping's id, or null when no socket is open.
   */
  ping(): number | null {
    const id = ++this.#pingId;
    return this.send('ping', { id, t: preciseNow() }, `ping:${id}`) ? id : null;
  }

  /** Stop for good (sign out). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (typeof window !== 'undefined') window.removeEventListener('online', this.#onBrowserOnline);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopHeartbeat();
    const socket = this.#socket;
    this.#socket = null;
    this.#each('closed');
    socket?.close(1000);
    this.#status = 'offline';
    this.#connectionId = null;
    this.#observers.clear();
  }

  #each(hook: keyof SocketLifecycle): void {
    for (const hooks of [...this.#lifecycles]) {
      try {
        hooks[hook]?.();
      } catch (err) {
        reportError(err);
      }
    }
  }

  #connect(): void {
    const socket = this.#createSocket(this.#url);
    this.#socket = socket;
    this.#healthy = false;

    // Every handler first checks that its socket is still the current one,
    // so a late event from a replaced socket cannot touch the state.
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      this.#status = 'online';
      this.emit({ type: 'open', at: preciseNow() });
      this.#startHeartbeat(socket);
      this.#each('open');
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.#socket) return;
      const at = preciseNow();
      // Any frame at all proves the server is alive.
      this.#clearPongDeadline();
      if (typeof event.data === 'string') this.#onFrame(event.data, at);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket) return;
      // A refused upgrade (401/403) also lands here, as code 1006: back off and try again.
      this.#onSocketGone(event.code);
    });
  }

  #onFrame(raw: string, at: number): void {
    const frame = this.#frames.read(raw);
    if (!frame) return;
    const { event, data } = frame;
    if (this.#observers.size) this.emit({ type: 'frame', at, event, data });
    // Unknown events are ignored so the server can add new ones.
    for (const handler of [...(this.#handlers.get(event) ?? [])]) {
      try {
        handler(data, at);
      } catch (err) {
        reportError(err);
      }
    }
  }

  #onError = (data: Record<string, unknown>): void => {
    const error: ChatError = {
      code: typeof data.code === 'string' ? data.code : 'unknown',
      message: typeof data.message === 'string' ? data.message : 'The server refused a frame',
      ref: typeof data.ref === 'string' ? data.ref : null,
    };
    for (const claim of this.#claims) if (claim(error, data)) return;
    this.#lastError = error;
  };

  /** The current socket is gone (closed by the server, or given up on by us): decide how to come back. */
  #onSocketGone(code: number): void {
    const wasHealthy = this.#healthy;
    this.#socket = null;
    this.#connectionId = null;
    this.#stopHeartbeat();
    this.#each('down');
    if (this.#closed) return;
    this.#status = 'reconnecting';
    this.emit({ type: 'close', at: preciseNow(), code });

    if (code === WsCloseCode.sessionExpired && this.#onSessionExpired) {
      this.#renewThenReconnect(this.#onSessionExpired, wasHealthy);
    } else if (code === WsCloseCode.slowConsumer && wasHealthy) {
      this.#connect();
    } else {
      // A 1012 from a socket that was working starts the deploy window (60 s on the deploy
      // pace); a server that answers every new socket with 1012 gets the ordinary backoff after.
      if (code === WsCloseCode.serviceRestart && wasHealthy) this.#backoff.restarted();
      this.#scheduleReconnect();
    }
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
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#connect();
    }, this.#backoff.next());
  }

  /** The network came back: skip the rest of the backoff wait. */
  #onBrowserOnline = (): void => {
    if (this.#closed || this.#socket || this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#connect();
  };

  #startHeartbeat(socket: WebSocketLike): void {
    this.#stopHeartbeat();
    this.#pingTimer = setInterval(() => this.#ping(socket), PING_INTERVAL_MS);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#clearPongDeadline();
  }

  #ping(socket: WebSocketLike): void {
    if (socket !== this.#socket || this.ping() === null) return;
    // One deadline at a time: it runs from the oldest unanswered ping.
    this.#pongDeadline ??= setTimeout(() => this.#onSilent(socket), PONG_TIMEOUT_MS);
  }

  #clearPongDeadline(): void {
    clearTimeout(this.#pongDeadline);
    this.#pongDeadline = undefined;
  }

  /** Nothing came back after a ping: the link is dead even if the browser has not noticed. */
  #onSilent(socket: WebSocketLike): void {
    this.#pongDeadline = undefined;
    if (socket !== this.#socket) return;
    // Detach before closing: on a dead link the close handshake can take a long time to give up,
    // and the late `close` event then finds another socket current and is ignored.
    this.#onSocketGone(CLOSE_NO_PONG);
    socket.close(CLOSE_NO_PONG, 'no pong');
  }

  #onPong = (data: Record<string, unknown>): void => {
    const { t, serverTime } = data;
    if (typeof t !== 'number' || typeof serverTime !== 'number') return;
    const rtt = preciseNow() - t;
    if (!(rtt >= 0)) return;
    this.#healthy = true;
    this.#rttMs = rtt;
    // The server read its clock about half a round trip after we sent.
    this.#clockOffsetMs = serverTime - (t + rtt / 2);
  };
}
