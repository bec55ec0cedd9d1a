import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { WebSocketsController } from '@nestjs/websockets/web-sockets-controller.js';
import { REF_MAX_CHARS, type WsErrorCode } from '@rt/protocol';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { EMPTY, from, mergeAll, type Observable } from 'rxjs';
import { WebSocket, type WebSocketServer } from 'ws';
import type { UserEntity } from '../domain/entities.js';
import { jsonShapeProblem } from '../domain/json-guard.js';
import { toErrorFrame } from '../dtos/chat.dto.js';
import type { OriginPolicy } from '../middleware/origin-policy.js';
import { CONNECTION_RETRY_AFTER_SECONDS } from '../repositories/connection-limit.repository.js';
import { isDatabaseUnavailable } from '../repositories/database.repository.js';

/** The upgrade request after verification: the authenticated user rides along to the gateway. */
export type VerifiedUpgrade = IncomingMessage & { user: UserEntity; sessionExpiresAt: number; sessionId: string };

export interface RealtimeWsAdapterOptions {
  authenticate(cookieHeader: string | undefined): Promise<{ user: UserEntity; expiresAt: number; sessionId: string } | null>;
  perMessageDeflate: boolean;
  /** Called for every frame a client sends, valid or not (telemetry). */
  onFrame?: () => void;
  origins: OriginPolicy;
  maxFrameBytes: number;
  /**
   * Every reply the adapter itself writes (handler results, error frames) goes through here: the
   * registry's send, which counts it against the socket's send cap.
   */
  send(socket: WebSocket, frame: string): void;
  /**
   * Takes one of the user's connection slots before the upgrade completes; returns it (released
   * when the socket closes), or null when the user is at the cap (the upgrade gets 429).
   */
  admit?(user: UserEntity): Promise<{ release(): void } | null>;
  /** A client's ping (the registry answers it through its send cap: `autoPong` is off). */
  onPing?(socket: WebSocket, data: Buffer): void;
  /** A client's pong: it is alive. */
  onPong?(socket: WebSocket): void;
}

type Handler = (...args: unknown[]) => unknown;

/**
 * One gateway's handlers, shared by every socket it serves: Nest's callbacks (its guards, pipes
 * and filters already wrapped around each method) and the gateway they run on. `bound`: the
 * callbacks are already bound to one socket (Nest's own per-socket path, the fallback).
 */
interface GatewayHandlers {
  instance: unknown;
  bound: boolean;
  /** The gateway's `handleDisconnect`, if it has one. */
  disconnect?: (socket: WebSocket, reason?: unknown) => unknown;
  byEvent: Map<string, Handler>;
  /** Nest's result unwrapping (promise or observable to observable). */
  transform: (data: unknown) => Observable<unknown>;
}

/**
 * Where a socket's frames go: the handlers of every gateway on its path, by event. Immutable and
 * shared by every socket with the same gateways, so a socket costs one WeakMap entry here, and a
 * new feature is a new gateway on `/ws` beside chat's (an event two gateways claim is refused).
 */
export class FrameRouter {
  private readonly extended = new WeakMap<GatewayHandlers, FrameRouter>();

  constructor(
    readonly routes: ReadonlyMap<string, GatewayHandlers>,
    /** The gateways to tell when a socket closes (those with `handleDisconnect`). */
    readonly disconnects: readonly GatewayHandlers[] = [],
  ) {}

  /** This router plus `gateway`'s events (the same object for every socket that gets both). */
  with(gateway: GatewayHandlers): FrameRouter {
    let next = this.extended.get(gateway);
    if (!next) {
      const routes = new Map(this.routes);
      for (const event of gateway.byEvent.keys()) {
        const owner = routes.get(event);
        if (owner && owner !== gateway) throw new Error(`two gateways on one path handle the event "${event}"`);
        routes.set(event, gateway);
      }
      // A per-socket (bound) gateway is not shared: its router is not kept either.
      next = new FrameRouter(routes, gateway.disconnect ? [...this.disconnects, gateway] : this.disconnects);
      if (!gateway.bound) this.extended.set(gateway, next);
    }
    return next;
  }

  /** Runs the event's handler; undefined if no gateway handles it. */
  dispatch(socket: WebSocket, event: string, data: unknown): Observable<unknown> | undefined {
    const gateway = this.routes.get(event);
    if (!gateway) return undefined;
    const handler = gateway.byEvent.get(event)!;
    return gateway.transform(gateway.bound ? handler(data, event) : handler.call(gateway.instance, socket, data, event));
  }
}

/**
 * Nest binds every handler of a gateway to every socket (`callback.bind(gateway, socket)` in
 * `WebSocketsController.subscribeMessages`), eight closures per chat socket that live as long as
 * it does (about 0.7 KiB of an idle WebSocket's heap). For sockets of our adapter, the
 * controller hands over the unbound callbacks instead, once per gateway; any other adapter gets
 * Nest's own behaviour. (`subscribeMessages` is public in Nest's typings; the API tests exercise
 * every frame through this path, and `bindMessageHandlers` below still serves if it is gone.)
 */
function shareGatewayHandlers(): void {
  type Controller = { config: { getIoAdapter(): unknown }; pickResult(result: unknown): Promise<Observable<unknown>> };
  const proto = WebSocketsController.prototype as unknown as Record<string | symbol, unknown> & {
    subscribeMessages: (this: Controller, handlers: MessageMappingProperties[], client: unknown, instance: unknown) => void;
  };
  const marker = Symbol.for('realtime-reference.sharedGatewayHandlers');
  if (proto[marker]) return;
  const original = proto.subscribeMessages;
  proto.subscribeMessages = function (this: Controller, handlers, client, instance) {
    const adapter = this.config.getIoAdapter();
    if (!(adapter instanceof RealtimeWsAdapter)) return original.call(this, handlers, client, instance);
    adapter.bindGateway(client as WebSocket, handlers, instance, (data) => from(this.pickResult(data)).pipe(mergeAll()));
  };
  proto[marker] = true;
}

/** A frame's `ref` as the client sent it, keyed by the frame's `data` object (see WsErrorFilter). */
export const frameRefs = new WeakMap<object, string>();

/**
 * Nest's WsAdapter with what a public socket needs:
 * - the upgrade is authenticated and origin-checked before any socket opens, answering a real
 *   `HTTP/1.1 401` or `403` (ws's `verifyClient`);
 * - frames above the size limit close the socket with 1009 (ws's `maxPayload`);
 * - frames the stock adapter drops silently (binary, not JSON, not `{event, data}`, unknown
 *   event) are answered with an `error` frame, and the connection stays open;
 * - a socket's frames reach the handlers without the stock adapter's per-socket rxjs pipeline
 *   (fromEvent, share, first, mergeMap, takeUntil), which cost about 5 KiB of heap per idle
 *   connection (see bench/results), and without listeners of its own: the server's sockets are
 *   a subclass of ws's (ws's `WebSocket` option) whose `emit` hands `message`, `ping`, `pong`,
 *   `error` and `close` to code shared by every socket (a socket with five listeners of its own
 *   cost 0.2 KiB more per idle connection).
 */
export class RealtimeWsAdapter extends WsAdapter {
  /** Each gateway's shared handlers, by Nest's handler list for it (one array per gateway). */
  private readonly gateways = new WeakMap<MessageMappingProperties[], GatewayHandlers>();
  /** Each socket's router (shared: see FrameRouter), all grown from this adapter's empty one. */
  private readonly routers = new WeakMap<WebSocket, FrameRouter>();
  private readonly noRoutes = new FrameRouter(new Map());
  /** What every socket does with a frame (`this` is the socket). */
  private readonly onMessage: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void;
  /** The class of the server's sockets (see the class comment). */
  private readonly socketClass: typeof WebSocket;
  /** The gateway `bindGateway` was last called for (see bindClientDisconnect). */
  private boundInstance: unknown;
  /** The slot of the upgrade being completed, for the socket ws makes for it (see create). */
  private pendingSlot: { release(): void } | null = null;

  constructor(
    app: INestApplicationContext,
    private readonly options: RealtimeWsAdapterOptions,
  ) {
    super(app);
    shareGatewayHandlers();
    const adapter = this;
    this.onMessage = function (data, isBinary) {
      const table = adapter.routers.get(this);
      if (!table) return;
      // A handler that rejects through an error filter that rethrows is an app bug: logged,
      // and the socket keeps working (every frame is its own subscription).
      adapter.handleFrame({ data: isBinary ? data : data.toString(), target: this }, table).subscribe({
        next: (response) => {
          if (response != null && this.readyState === WebSocket.OPEN) adapter.options.send(this, JSON.stringify(response));
        },
        error: (err: unknown) => adapter.logger.error(err),
      });
    };
    this.socketClass = class ServerSocket extends WebSocket {
      /** The user's connection slot, held while the socket is open (a field: no closure per socket). */
      slot: { release(): void } | null = adapter.takePendingSlot();

      override emit(event: string | symbol, ...args: unknown[]): boolean {
        switch (event) {
          case 'message':
            adapter.onMessage.call(this, args[0] as WebSocket.RawData, args[1] as boolean);
            break;
          case 'ping':
            adapter.options.onPing?.(this, args[0] as Buffer);
            break;
          case 'pong':
            adapter.options.onPong?.(this);
            break;
          case 'error':
            // Client-caused (oversized frames, protocol violations): ws already closed the socket
            // with the right code. Normal on a public endpoint, so not an error anyone could use
            // to flood the log.
            adapter.logger.debug(`client socket error: ${(args[0] as Error | undefined)?.message ?? ''}`);
            return this.listenerCount('error') > 0 ? super.emit(event, ...args) : true;
          case 'close':
            this.slot?.release();
            adapter.closed(this, args[0]);
            break;
        }
        return super.emit(event, ...args);
      }
    };
  }

  private takePendingSlot(): { release(): void } | null {
    const slot = this.pendingSlot;
    this.pendingSlot = null;
    return slot;
  }

  /**
   * A socket closed: the gateways that listen are told at once, in the `close` event as Nest's
   * own listener would (`handleDisconnect(socket, code)`); a failure is logged, not thrown into ws.
   */
  private closed(socket: WebSocket, reason: unknown): void {
    const router = this.routers.get(socket);
    if (!router) return;
    for (const gateway of router.disconnects) {
      try {
        const done = gateway.disconnect!(socket, reason);
        if (done instanceof Promise) done.catch((err: unknown) => this.logger.error(err));
      } catch (err) {
        this.logger.error(err);
      }
    }
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    return super.create(port, {
      ...options,
      maxPayload: this.options.maxFrameBytes,
      WebSocket: this.socketClass,
      perMessageDeflate: this.options.perMessageDeflate,
      // We speak no subprotocol: offered ones are not echoed back (ws would select the first).
      handleProtocols: () => false,
      // Pongs are replies like any other: the registry answers pings through its send cap.
      autoPong: false,
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => {
        if (!this.options.origins.isAllowed(info.req.headers)) return done(false, 403, 'Forbidden');
        this.options.authenticate(info.req.headers.cookie).then(
          async (session) => {
            if (!session) return done(false, 401, 'Unauthorized');
            const slot = this.options.admit ? await this.options.admit(session.user) : null;
            if (this.options.admit && !slot) return done(false, 429, 'Too Many Requests', { 'Retry-After': String(CONNECTION_RETRY_AFTER_SECONDS) });
            Object.assign(info.req, { user: session.user, sessionExpiresAt: session.expiresAt, sessionId: session.sessionId });
            // ws answers 101 and the gateway writes `hello` synchronously inside done(true):
            // corked, both leave in one write (one syscall per connection, not two).
            const tcp = info.req.socket;
            tcp.cork();
            // ws makes the socket synchronously inside done(true): it takes the slot and releases
            // it when it closes. An upgrade that ended before a socket was made gives it back here.
            this.pendingSlot = slot;
            try {
              done(true);
            } finally {
              tcp.uncork();
              this.takePendingSlot()?.release();
            }
          },
          // The database is unreachable: a retryable refusal, so the client backs off and retries.
          (err: unknown) => (isDatabaseUnavailable(err) ? done(false, 503, 'Service Unavailable') : done(false, 500, 'Internal Server Error')),
        );
      },
    } as never);
  }

  /**
   * An upgrade on a path no gateway serves gets a real `HTTP/1.1 404` (Nest's adapter destroys
   * the TCP connection without a word), and a malformed request line a real 400.
   */
  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    const server = super.ensureHttpServerExists(port, httpServer);
    const target = this.httpServersRegistry.get(port) as Server;
    const [nestListener] = target.listeners('upgrade').slice(-1) as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
    if (!nestListener || (nestListener as { wrapped?: boolean }).wrapped) return server;
    target.off('upgrade', nestListener);
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      let pathname: string;
      try {
        pathname = new URL(req.url ?? '/', 'ws://localhost/').pathname;
      } catch {
        return refuse(socket, 400, 'Bad Request');
      }
      const servers = (this.wsServersRegistry.get(port) ?? []) as { path: string }[];
      if (!servers.some((s) => s.path === pathname)) return refuse(socket, 404, 'Not Found');
      nestListener(req, socket, head);
    };
    target.on('upgrade', Object.assign(listener, { wrapped: true }));
    return server;
  }

  /**
   * Client-caused socket errors (oversized frames, protocol violations) are normal on a public
   * endpoint: ws already closed the socket with the right code, so they are logged at debug
   * level, not as errors anyone could use to flood the log.
   */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    // The sockets' own errors are handled by their class (see the class comment).
    server.on('error', (err: Error) => this.logger.error(err));
    return server;
  }

  /** A gateway's handlers for `client`, shared with every other socket of that gateway (see shareGatewayHandlers). */
  bindGateway(client: WebSocket, handlers: MessageMappingProperties[], instance: unknown, transform: (data: unknown) => Observable<unknown>): void {
    this.boundInstance = instance;
    let gateway = this.gateways.get(handlers);
    if (!gateway) {
      const onDisconnect = (instance as { handleDisconnect?: (socket: WebSocket, reason?: unknown) => unknown }).handleDisconnect;
      gateway = {
        instance,
        bound: false,
        disconnect: typeof onDisconnect === 'function' ? onDisconnect.bind(instance) : undefined,
        byEvent: new Map(handlers.map((h) => [h.message as string, h.callback as Handler])),
        transform,
      };
      this.gateways.set(handlers, gateway);
    }
    this.route(client, gateway);
  }

  /**
   * Nest's own path, if `subscribeMessages` was not taken over: the callbacks are bound to this
   * socket, so they are kept per socket (merged with any other gateway's on the same path).
   */
  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    this.route(client, { instance: undefined, bound: true, byEvent: new Map(handlers.map((h) => [h.message as string, h.callback as Handler])), transform });
  }

  private route(client: WebSocket, gateway: GatewayHandlers): void {
    const current = this.routers.get(client);
    this.routers.set(client, (current ?? this.noRoutes).with(gateway));
    // A socket of another class (not made by our server) gets one listener, whatever the number of gateways.
    if (!current && !(client instanceof this.socketClass)) (client as WebSocket).on('message', this.onMessage);
  }

  /** The router a socket's frames go through (tests: shared by every socket of the same gateways). */
  routerOf(client: WebSocket): FrameRouter | undefined {
    return this.routers.get(client);
  }

  /**
   * Nest asks this once per gateway per socket, right after `bindGateway` for that gateway, with
   * a closure per socket. A gateway bound through `bindGateway` is told of the close by the
   * socket's class instead (`closed`, from the router's `disconnects`), so the closure is not
   * kept (a second gateway on `/ws` cost 0.3 KiB per idle socket that way); on Nest's own path
   * it is a plain listener (ws emits `close` once: not `once`'s wrapper).
   */
  override bindClientDisconnect(client: WebSocket, callback: (...args: unknown[]) => void): void {
    const shared = this.boundInstance !== undefined;
    this.boundInstance = undefined;
    if (shared && client instanceof this.socketClass) return;
    (client).on('close', callback);
  }

  private handleFrame(
    buffer: { data: string | WebSocket.RawData; target: WebSocket },
    router: FrameRouter,
  ): Observable<unknown> {
    const socket = buffer.target;
    this.options.onFrame?.();
    const reject = (code: WsErrorCode, message: string, ref: string | null = null) => {
      this.options.send(socket, toErrorFrame({ code, message, ref }));
      return EMPTY;
    };
    if (typeof buffer.data !== 'string') {
      return reject('bad_json', 'frames must be JSON text, not binary');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buffer.data);
    } catch {
      return reject('bad_json', 'frame is not valid JSON');
    }
    if (!isRecord(parsed)) return reject('bad_frame', 'frame must be an object {"event", "data"}');
    const ref = typeof parsed.ref === 'string' ? parsed.ref.slice(0, REF_MAX_CHARS) : null;
    const problem = jsonShapeProblem(parsed);
    if (problem) return reject('bad_frame', problem, ref);
    const { event, data } = parsed;
    if (typeof event !== 'string') return reject('bad_frame', 'frame needs a string "event"', ref);
    if (!isRecord(data)) return reject('bad_frame', 'frame needs an object "data"', ref);
    if (!router.routes.has(event)) return reject('unknown_event', `unknown event "${event.slice(0, 64)}"`, ref);
    if (ref !== null) frameRefs.set(data, ref);
    return router.dispatch(socket, event, data)!;
  }
}

/** Answers an upgrade request with a plain HTTP status and closes the connection. */
function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
