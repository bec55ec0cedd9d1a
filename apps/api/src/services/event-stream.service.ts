import { Injectable } from '@nestjs/common';
import { MAX_TOPICS, POLL_LIMIT, type PolledEvent, type PollAnswer } from '@rt/protocol';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import type { CursorSource } from '../domain/gapless-cursor.js';
import { formatComposite, TOPIC_PATTERN, type ParsedPosition } from '../domain/stream-position.js';
import { eventData, sseEvent, type SseEventText } from '../dtos/events.dto.js';
import { BlogRepository, blogStream } from '../repositories/blog.repository.js';
import { NotificationRepository, userStream } from '../repositories/notification.repository.js';
import { StreamEventRepository } from '../repositories/stream-event.repository.js';

const PAGE = 500;

/** One topic of a stream: what the client calls it, which log it reads, whether it is private. */
export interface TopicSpec {
  topic: string;
  stream: string;
  private: boolean;
  /** The log's last position, when resolving the topic read it already (saves a query per stream). */
  last?: number;
}

export type ResetReason = 'ok' | 'malformed' | 'unknown' | 'expired';

/** Where each topic of a stream starts, and the `reset` to send first, if any. */
export interface StreamPlan {
  topics: TopicSpec[];
  starts: Map<string, number>;
  reset: Record<string, { lastId: number; reason: ResetReason }> | null;
}

/**
 * One topic's replay from its log, from `start`. A small object with methods rather than a pair
 * of closures: every open stream holds one per topic for its whole life.
 */
class LogSource implements CursorSource<SseEventText> {
  constructor(
    private readonly log: StreamEventRepository,
    private readonly stream: string,
    private readonly start: number,
  ) {}

  async initial() {
    const items = await this.after(this.start, PAGE);
    return { items, position: items.at(-1)?.seq ?? this.start, more: items.length === PAGE };
  }

  async after(from: number, limit: number): Promise<SseEventText[]> {
    return (await this.log.after(this.stream, from, limit)).map(sseEvent);
  }
}

/** Which SSE topics exist, who may read them, and where a reader resumes (or must reset). */
@Injectable()
export class EventStreamService {
  constructor(
    private readonly notifications: NotificationRepository,
    private readonly blogs: BlogRepository,
    private readonly log: StreamEventRepository,
  ) {}

  /**
   * Parses `topics=a,b` and checks access: 400 malformed or too many, 401 `notifications`
   * without a session, 403 someone else's `user:<id>`, 404 a blog that does not exist.
   */
  async resolveTopics(raw: string | undefined, user: UserEntity | null): Promise<TopicSpec[]> {
    const names = [...new Set((raw ?? '').split(',').map((t) => t.trim()).filter(Boolean))];
    if (names.length === 0) throw new DomainError('invalid', 'topics is required, for example topics=notifications,blog:3');
    if (names.length > MAX_TOPICS) throw new DomainError('invalid', `at most ${MAX_TOPICS} topics per stream`);
    const specs: TopicSpec[] = [];
    for (const name of names) {
      if (!TOPIC_PATTERN.test(name)) throw new DomainError('invalid', `unknown topic "${name.slice(0, 64)}"`);
      if (name === 'notifications' || name.startsWith('user:')) {
        if (!user) throw new DomainError('unauthenticated', 'Sign in required');
        if (name !== 'notifications' && name !== `user:${user.id}`) throw new DomainError('forbidden', `You may not read ${name}`);
        if (!specs.some((s) => s.topic === 'notifications')) specs.push({ topic: 'notifications', stream: userStream(user.id), private: true });
        continue;
      }
      const id = Number(name.slice('blog:'.length));
      const blog = await this.blogs.find(id);
      if (!blog) throw new DomainError('not_found', `No blog ${id}`);
      specs.push({ topic: name, stream: blogStream(id), private: false, last: blog.lastSeq });
    }
    return specs;
  }

  /** The last position handed out in a topic's log. */
  private async last(spec: TopicSpec): Promise<number> {
    if (spec.last !== undefined) return spec.last;
    const [kind, id] = spec.stream.split(':');
    if (kind === 'user') return this.notifications.lastSeq(Number(id));
    return (await this.blogs.find(Number(id)))?.lastSeq ?? 0;
  }

  /**
   * Decides where each topic starts from the client's position: its own position when the log
   * still holds everything after it; otherwise the end of the log, with a `reset` saying why
   * (malformed, ahead of the log, or older than retention). A topic the position does not
   * mention starts at the end of its log.
   */
  async plan(topics: TopicSpec[], position: ParsedPosition): Promise<StreamPlan> {
    const starts = new Map<string, number>();
    const reasons = new Map<string, ResetReason>();
    for (const spec of topics) {
      const last = await this.last(spec);
      const given =
        position.kind === 'plain' ? position.seq : position.kind === 'composite' ? position.positions.get(spec.topic) : undefined;
      let reason: ResetReason = 'ok';
      if (position.kind === 'malformed') reason = 'malformed';
      else if (given !== undefined && given > last) reason = 'unknown';
      else if (given !== undefined && given < (await this.log.floor(spec.stream, last))) reason = 'expired';
      starts.set(spec.topic, reason === 'ok' && given !== undefined ? given : last);
      reasons.set(spec.topic, reason);
    }
    const needsReset = [...reasons.values()].some((r) => r !== 'ok');
    const reset = needsReset
      ? Object.fromEntries(topics.map((t) => [t.topic, { lastId: starts.get(t.topic)!, reason: reasons.get(t.topic)! }]))
      : null;
    return { topics, starts, reset };
  }

  /** The replay source of one topic, from `start`. */
  source(spec: TopicSpec, start: number): CursorSource<SseEventText> {
    return new LogSource(this.log, spec.stream, start);
  }

  /**
   * The polling fallback: what a stream would send from `plan`, as JSON, up to POLL_LIMIT events,
   * with the composite id after each.
   */
  async poll(plan: StreamPlan): Promise<PollAnswer> {
    const order = plan.topics.map((t) => t.topic);
    const positions = new Map(plan.starts);
    const events: PolledEvent[] = [];
    if (plan.reset) events.push({ id: formatComposite(order, positions), event: 'reset', data: { topics: plan.reset } });
    for (const spec of plan.topics) {
      const room = POLL_LIMIT - events.length;
      if (room <= 0) break;
      for (const entry of await this.log.after(spec.stream, positions.get(spec.topic)!, room)) {
        positions.set(spec.topic, entry.seq);
        events.push({ id: formatComposite(order, positions), event: entry.type, data: JSON.parse(eventData(entry, true)) as unknown });
      }
    }
    return { events, lastEventId: formatComposite(order, positions) };
  }
}
