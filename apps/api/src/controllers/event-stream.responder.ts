import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { parsePosition } from '../domain/stream-position.js';
import { CONNECTION_RETRY_AFTER_SECONDS, ConnectionLimitRepository } from '../repositories/connection-limit.repository.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { EventStreamService, type TopicSpec } from '../services/event-stream.service.js';

/**
 * Opens an SSE stream for the controllers that serve one (`/api/events`, the notification and
 * blog streams): reads the client's position (`Last-Event-ID`, else `?lastEventId=`), plans the
 * replay or reset, and hands the response to the SSE registry. Errors thrown before it writes
 * become ordinary JSON answers.
 */
@Injectable()
export class EventStreamResponder {
  constructor(
    private readonly streams: EventStreamService,
    private readonly sse: SseRepository,
    private readonly limits: ConnectionLimitRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async open(req: Request, res: Response, topics: TopicSpec[], composite: boolean, session: { user: { id: number }; expiresAt: number; sessionId: string } | null): Promise<void> {
    // Before any work: a signed-in reader's streams count against SSE_MAX_PER_USER, a signed-out
    // one's against SSE_MAX_PER_IP (its address, or X-Forwarded-For from a proxy on loopback).
    const release = session
      ? await this.limits.acquire(`sse:user:${session.user.id}`, this.config.sseMaxPerUser)
      : await this.limits.acquire(`sse:ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`, this.config.sseMaxPerIp);
    if (!release) {
      throw new DomainError('rate_limited', 'Too many open streams; close one first', { retryAfterMs: CONNECTION_RETRY_AFTER_SECONDS * 1000 });
    }
    res.once('close', release);
    const header = req.headers['last-event-id'];
    const query = req.query.lastEventId;
    const raw = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
    const position = parsePosition(raw, composite);
    const plan = await this.streams.plan(topics, position);
    await this.sse.open(req, res, {
      topics: topics.map((t) => ({ topic: t.topic, stream: t.stream, start: plan.starts.get(t.topic)!, source: this.streams.source(t, plan.starts.get(t.topic)!) })),
      composite,
      reset: plan.reset ? JSON.stringify({ topics: plan.reset }) : undefined,
      expiresAt: topics.some((t) => t.private) && session ? session.expiresAt : undefined,
      sessionId: topics.some((t) => t.private) && session ? session.sessionId : undefined,
      resumed: position.kind !== 'none',
      userId: session?.user.id ?? null,
    });
  }

  /** The polling fallback's answer for the same inputs. */
  async poll(req: Request, topics: TopicSpec[]) {
    const query = req.query.lastEventId;
    return this.streams.poll(await this.streams.plan(topics, parsePosition(typeof query === 'string' ? query : undefined, true)));
  }

  resolve(raw: unknown, user: UserEntity | null): Promise<TopicSpec[]> {
    return this.streams.resolveTopics(typeof raw === 'string' ? raw : undefined, user);
  }
}
