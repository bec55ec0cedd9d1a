import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { UserEntity } from '../domain/entities.js';
import { parsePosition } from '../domain/stream-position.js';
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
  ) {}

  async open(req: Request, res: Response, topics: TopicSpec[], composite: boolean, session: { user: { id: number }; expiresAt: number; sessionId: string } | null): Promise<void> {
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
