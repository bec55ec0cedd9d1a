import { Injectable } from '@nestjs/common';
import { MAX_TOPICS, POLL_LIMIT, type PolledEvent, type PollAnswer } from '@rt/protocol';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import type { CursorSource } from '../domain/gapless-cursor.js';
import { formatComposite, TOPIC_PATTERN, type ParsedPosition } from '../domain/stream-position.js';
import { boardPictureSse, boardSseEvent } from '../dtos/board.dto.js';
import { eventData, sseEvent, type SseEventText } from '../dtos/events.dto.js';
import { BlogRepository, blogStream } from '../repositories/blog.repository.js';
import { NotificationRepository, userStream } from '../repositories/notification.repository.js';
import { StreamEventRepository } from '../repositories/stream-event.repository.js';
import { BoardService } from './board.service.js';

const PAGE = 500;

/** One topic of a stream: what the client calls it, which log it reads, whether it is private. */
export interface TopicSpec {
  topic: string;
  stream: string;
  private: boolean;
  /** The log's last position, when resolving the topic read it already (saves a query per stream). */
  last?: number;
  /** A board topic's room. */
  board?: { id: number; name: string };
}

export type ResetReason = 'ok' | 'malformed' | 'unknown' | 'expired';

/** Where each topic of a stream starts, and the `reset` to send first, if any. */
export interface StreamPlan {
  topics: TopicSpec[];
  starts: Map<string, number>;
  reset: Record<string, { lastId: number; reason: ResetReason }> | null;
  /** Board topics that start with their picture (no position, or one the log no longer holds). */
  pictures: Set<string>;
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

/**
 * A board topic's replay: its picture first when the reader has no position the log still
 * holds, then the entries after the picture's position (or after `start`).
 */
class BoardSource implements CursorSource<SseEventText> {
  constructor(
    private readonly board: BoardService,
    private readonly room: { id: number; name: string },
    private readonly start: number,
    private readonly picture: boolean,
  ) {}

  async initial() {
    if (this.picture) {
      const picture = await this.board.picture(this.room.id);
      return { items: [boardPictureSse(picture.toData(this.room.name, this.room.id))], position: picture.seq, more: true };
    }
    const items = await this.after(this.start, PAGE);
    return { items, position: items.at(-1)?.seq ?? this.start, more: items.length === PAGE };
  }

  async after(from: number, limit: number): Promise<SseEventText[]> {
    return (await this.board.entriesAfter(this.room.id, from, limit)).map((entry) => boardSseEvent(entry));
  }
}

/** Which SSE topics exist, who may read them, and where a reader resumes (or must reset). */
@Injectable()
export class EventStreamService {
  constructor(
    private readonly notifications: NotificationRepository,
    private readonly blogs: BlogRepository,
    private readonly log: StreamEventRepository,
    private readonly board: BoardService,
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
      if (name.startsWith('board:')) {
        if (!user) throw new DomainError('unauthenticated', 'Sign in required');
        const room = await this.board.roomById(Number(name.slice('board:'.length)));
        if (!room) throw new DomainError('not_found', `No room ${name.slice('board:'.length)}`);
        specs.push({ topic: name, stream: name, private: true, board: room });
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
    if (spec.board) return (await this.board.bounds(spec.board.id)).last;
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
    const pictures = new Set<string>();
    for (const spec of topics) {
      const last = await this.last(spec);
      const given =
        position.kind === 'plain' ? position.seq : position.kind === 'composite' ? position.positions.get(spec.topic) : undefined;
      let reason: ResetReason = 'ok';
      if (position.kind === 'malformed') reason = 'malformed';
      else if (given !== undefined && given > last) reason = 'unknown';
      else if (given !== undefined && given < (await this.floor(spec, last))) reason = 'expired';
      starts.set(spec.topic, reason === 'ok' && given !== undefined ? given : last);
      reasons.set(spec.topic, reason);
      // A board reader without a position it can resume from needs the picture, not the end of the log.
      if (spec.board && (reason !== 'ok' || given === undefined)) pictures.add(spec.topic);
    }
    const needsReset = [...reasons.values()].some((r) => r !== 'ok');
    const reset = needsReset
      ? Object.fromEntries(topics.map((t) => [t.topic, { lastId: starts.get(t.topic)!, reason: reasons.get(t.topic)! }]))
      : null;
    return { topics, starts, reset, pictures };
  }

  /** The oldest position a reader of the topic may resume from. */
  private async floor(spec: TopicSpec, last: number): Promise<number> {
    return spec.board ? (await this.board.bounds(spec.board.id)).floor : this.log.floor(spec.stream, last);
  }

  /** The replay source of one topic, from `start` (a board's from its picture when `plan` says so). */
  source(spec: TopicSpec, start: number, plan?: StreamPlan): CursorSource<SseEventText> {
    if (spec.board) return new BoardSource(this.board, spec.board, start, plan?.pictures.has(spec.topic) ?? false);
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
      if (spec.board) {
        await this.pollBoard(spec, spec.board, plan, order, positions, events);
        continue;
      }
      const room = POLL_LIMIT - events.length;
      if (room <= 0) break;
      for (const entry of await this.log.after(spec.stream, positions.get(spec.topic)!, room)) {
        positions.set(spec.topic, entry.seq);
        events.push({ id: formatComposite(order, positions), event: entry.type, data: JSON.parse(eventData(entry, true)) as unknown });
      }
    }
    return { events, lastEventId: formatComposite(order, positions) };
  }

  /** A board topic's part of a poll: the picture if the plan says so, then entries, as JSON. */
  private async pollBoard(spec: TopicSpec, board: { id: number; name: string }, plan: StreamPlan, order: string[], positions: Map<string, number>, events: PolledEvent[]): Promise<void> {
    if (POLL_LIMIT - events.length <= 0) return;
    if (plan.pictures.has(spec.topic)) {
      const picture = await this.board.picture(board.id);
      positions.set(spec.topic, picture.seq);
      events.push({ id: formatComposite(order, positions), event: 'picture', data: { topic: spec.topic, ...picture.toData(board.name, board.id) } });
    }
    for (const entry of await this.board.entriesAfter(board.id, positions.get(spec.topic)!, POLL_LIMIT - events.length)) {
      positions.set(spec.topic, entry[2]);
      events.push({ id: formatComposite(order, positions), event: 'board', data: entry });
    }
  }
}
