import { BadRequestException, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { parsePosition } from '../domain/stream-position.js';
import { toHttpError } from '../middleware/http-exception.filter.js';
import { STREAM_SECURITY_HEADERS } from '../middleware/security-headers.js';
import { CONNECTION_RETRY_AFTER_SECONDS, type ConnectionSlot, ConnectionLimitRepository } from '../repositories/connection-limit.repository.js';
import { userStream } from '../repositories/notification.repository.js';
import { SSE_HEADERS, SseRepository } from '../repositories/sse.repository.js';
import { AuthService, type AuthenticatedSession } from '../services/auth.service.js';
import { EventStreamService, type TopicSpec } from '../services/event-stream.service.js';

/** The three stream endpoints, as paths are matched by Express (case-insensitive, optional trailing slash). */
const EVENTS = /^\/api\/events\/?$/i;
const NOTIFICATIONS = /^\/api\/notifications\/stream\/?$/i;
const BLOG = /^\/api\/blogs\/([^/]+)\/stream\/?$/i;
/** Express's own `req.ip` (with `trust proxy: loopback`): the client's address, or X-Forwarded-For from a proxy on loopback. */
const proxyAddr = createRequire(import.meta.url)('proxy-addr') as ((req: IncomingMessage, trust: unknown) => string) & { compile(value: string): unknown };
const TRUST_LOOPBACK = proxyAddr.compile('loopback');

/** A stream's head: the security headers every Express answer carries, then the stream's own. */
const STREAM_HEAD: readonly string[] = Object.freeze([...STREAM_SECURITY_HEADERS, ...SSE_HEADERS]);

/** What Nest's ParseIntPipe accepts for `:id`. */
const INTEGER = /^-?\d+$/;

/** A query parameter given exactly once (Express's query parser makes repeated ones an array, which the endpoints refuse). */
function single(query: URLSearchParams, name: string): string | undefined {
  const all = query.getAll(name);
  return all.length === 1 ? all[0] : undefined;
}

/**
 * Serves the SSE endpoints (`GET /api/events`, `/api/notifications/stream`,
 * `/api/blogs/:id/stream`) below Express: a `request` listener ahead of Express answers exactly
 * these, so no Express or Nest request and response objects live as long as the stream, only
 * Node's own (an idle stream costs about what a raw `node:http` one does). The behaviour is the
 * controllers' as it was: the one `authenticate()`, the same JSON errors from the same mapping
 * (`toHttpError`) before any stream starts, `Last-Event-ID` (else `?lastEventId=`), and the SSE
 * registry for everything after the head. Reads the client's position, plans the replay or reset
 * and hands the response to the registry.
 */
@Injectable()
export class EventStreamResponder {
  constructor(
    private readonly streams: EventStreamService,
    private readonly sse: SseRepository,
    private readonly auth: AuthService,
    private readonly limits: ConnectionLimitRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Serves `req` if it is a GET of a stream endpoint; false for anything else (Express's). */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let run: ((query: URLSearchParams) => Promise<void>) | undefined;
    if (EVENTS.test(path)) run = (query) => this.events(req, res, query);
    else if (NOTIFICATIONS.test(path)) run = (query) => this.notifications(req, res, query);
    else {
      const blog = BLOG.exec(path);
      if (blog) run = (query) => this.blog(blog[1]!, req, res, query);
    }
    if (!run) return false;
    run(new URLSearchParams(q < 0 ? '' : url.slice(q + 1))).catch((err: unknown) => this.fail(res, err));
    return true;
  }

  private async events(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const session = await this.auth.authenticateSession(req.headers.cookie);
    const specs = await this.streams.resolveTopics(single(query, 'topics'), session?.user ?? null);
    await this.open(req, res, query, specs, true, session);
  }

  private async notifications(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const session = await this.auth.authenticateSession(req.headers.cookie);
    if (!session) throw new UnauthorizedException('Sign in required');
    await this.open(req, res, query, [{ topic: 'notifications', stream: userStream(session.user.id), private: true }], false, session);
  }

  private async blog(rawId: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      throw new BadRequestException(`Failed to decode param '${rawId.slice(0, 64)}'`); // as Express said
    }
    if (!INTEGER.test(id)) throw new NotFoundException('Validation failed (numeric string is expected)');
    await this.open(req, res, query, await this.streams.resolveTopics(`blog:${Number.parseInt(id, 10)}`, null), false, null);
  }

  private async open(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, topics: TopicSpec[], composite: boolean, session: AuthenticatedSession | null): Promise<void> {
    // Before any work: a signed-in reader's streams count against SSE_MAX_PER_USER, a signed-out
    // one's against SSE_MAX_PER_IP.
    const slot = session
      ? await this.limits.acquire(`sse:user:${session.user.id}`, this.config.sseMaxPerUser)
      : await this.limits.acquire(`sse:ip:${proxyAddr(req, TRUST_LOOPBACK)}`, this.config.sseMaxPerIp);
    if (!slot) {
      throw new DomainError('rate_limited', 'Too many open streams; close one first', { retryAfterMs: CONNECTION_RETRY_AFTER_SECONDS * 1000 });
    }
    releaseOnClose(res, slot);
    const header = req.headers['last-event-id'];
    const raw = typeof header === 'string' ? header : single(query, 'lastEventId');
    const position = parsePosition(raw, composite);
    const plan = await this.streams.plan(topics, position);
    await this.sse.open(res, {
      topics: topics.map((t) => ({ topic: t.topic, stream: t.stream, start: plan.starts.get(t.topic)!, source: this.streams.source(t, plan.starts.get(t.topic)!, plan) })),
      composite,
      reset: plan.reset ? JSON.stringify({ topics: plan.reset }) : undefined,
      expiresAt: topics.some((t) => t.private) && session ? session.expiresAt : undefined,
      sessionId: topics.some((t) => t.private) && session ? session.sessionId : undefined,
      resumed: position.kind !== 'none',
      userId: session?.user.id ?? null,
      headers: STREAM_HEAD,
    });
  }

  /** An error before the stream started is an ordinary JSON answer; after, the stream just ends. */
  private fail(res: ServerResponse, err: unknown): void {
    if (this.sse.started(res)) {
      res.socket?.destroy(); // mid-stream: the reader reconnects and resumes from its position
      return;
    }
    const { status, body, headers } = toHttpError(err);
    const json = JSON.stringify(body);
    const extra = Object.entries(headers).flatMap(([name, value]) => [name, String(value)]);
    res.writeHead(status, [...STREAM_SECURITY_HEADERS, ...extra, 'Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(json))]);
    res.end(json);
  }

  /** The polling fallback's answer (an ordinary Express request). */
  async poll(req: Request, topics: TopicSpec[]) {
    const query = req.query.lastEventId;
    return this.streams.poll(await this.streams.plan(topics, parsePosition(typeof query === 'string' ? query : undefined, true)));
  }

  resolve(raw: unknown, user: UserEntity | null): Promise<TopicSpec[]> {
    return this.streams.resolveTopics(typeof raw === 'string' ? raw : undefined, user);
  }
}

/**
 * Gives the stream's slot back when its response closes. A function of its own: a closure made
 * inside `open` would share that scope's context and keep the stream's plan (its topics, starts
 * and reset) alive for the stream's lifetime, about 0.3 KiB per idle stream.
 */
function releaseOnClose(res: ServerResponse, slot: ConnectionSlot): void {
  res.on('close', () => slot.release());
}
