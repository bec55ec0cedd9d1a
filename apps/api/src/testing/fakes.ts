/**
 * Hand-written fakes of the repositories, for the services' unit specs (`services/*.spec.ts`).
 * Each keeps its data in memory and keeps the promises the real one makes to its callers (the
 * group commit's ordering, a log's gapless positions), and nothing else. Units of work are the
 * same generators as the real ones' (repositories/sql.ts), only they never yield a query.
 * Not part of the build (tsconfig.build.json).
 */
import type { AppConfig } from '../config/app-config.js';
import type { NotificationEntity, StreamEntry } from '../domain/entities.js';
import type { DomainEvent } from '../domain/events.js';
import type { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus, type DomainEventHandler } from '../repositories/event-bus.repository.js';
import { notificationPayload, type NewNotification, type NotificationRepository } from '../repositories/notification.repository.js';
import type { RateDecision, RateLimitRepository, RatePolicy } from '../repositories/rate-limit.repository.js';
import type { Unit } from '../repositories/sql.js';
import { DomainError } from '../domain/errors.js';

export const NOW = '2026-12-02T12:00:00.000Z';

/** Runs a unit of a fake repository: it must finish without asking for a query. */
export function runUnit<T>(unit: Unit<T>): T {
  const step = unit.next();
  if (!step.done) throw new Error(`a fake unit yielded a query: ${JSON.stringify(step.value)}`);
  return step.value;
}

interface Queued {
  make: () => Unit<unknown>;
  failed?: (error: unknown) => void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The group commit, in memory: units queue in call order and run together in the next macrotask
 * (one "commit"); a unit that throws is told `failed` at once, before the next unit runs, and
 * rejects alone; promises settle in queue order after the commit (DatabaseRepository.write).
 */
export class FakeDatabase implements Pick<DatabaseRepository, 'write' | 'read'> {
  /** How many commits ran. */
  commits = 0;
  private queue: Queued[] = [];

  write<T>(make: () => Unit<T>, failed?: (error: unknown) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ make, failed, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.commit());
    });
  }

  read<T>(unit: Unit<T>): Promise<T> {
    return Promise.resolve().then(() => runUnit(unit));
  }

  private commit(): void {
    const batch = this.queue.splice(0);
    this.commits++;
    const outcomes = batch.map((queued) => {
      try {
        return { ok: true as const, value: runUnit(queued.make()) };
      } catch (error) {
        queued.failed?.(error);
        return { ok: false as const, error };
      }
    });
    batch.forEach((queued, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) queued.resolve(outcome.value);
      else queued.reject(outcome.error);
    });
  }

  as(): DatabaseRepository {
    return this as unknown as DatabaseRepository;
  }
}

/** An event bus that records what was published, in order, and hands it to subscribers. */
export class RecordingBus extends EventBus {
  readonly published: DomainEvent[] = [];
  private readonly handlers = new Set<DomainEventHandler>();

  publish(event: DomainEvent): Promise<void> {
    this.published.push(event);
    for (const handler of this.handlers) handler(event);
    return Promise.resolve();
  }

  subscribe(handler: DomainEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** The published events of one type. */
  of<K extends DomainEvent['type']>(type: K): Extract<DomainEvent, { type: K }>[] {
    return this.published.filter((e): e is Extract<DomainEvent, { type: K }> => e.type === type);
  }
}

/**
 * Rate limits that allow everything until told otherwise: `deny(policy)` refuses that policy's
 * next takes (all, or `times` of them). Records every take.
 */
export class FakeRateLimit implements Pick<RateLimitRepository, 'take' | 'takeFrom' | 'enforce'> {
  readonly taken: { policy: RatePolicy; key: string }[] = [];
  private readonly denials = new Map<RatePolicy, number>();

  deny(policy: RatePolicy, times = Infinity): void {
    this.denials.set(policy, times);
  }

  private decide(policy: RatePolicy, key: string): RateDecision {
    this.taken.push({ policy, key });
    const left = this.denials.get(policy) ?? 0;
    if (left <= 0) return { allowed: true };
    this.denials.set(policy, left - 1);
    return { allowed: false, retryAfterMs: 250 };
  }

  take(key: string): RateDecision {
    return this.decide('chat', key);
  }

  takeFrom(policy: RatePolicy, key: string): RateDecision {
    return this.decide(policy, key);
  }

  enforce(policy: Exclude<RatePolicy, 'chat'>, key: string | number, what: string): Promise<void> {
    const decision = this.decide(policy, String(key));
    if (decision.allowed) return Promise.resolve();
    return Promise.reject(new DomainError('rate_limited', `Too many ${what}; try again in ${decision.retryAfterMs} ms`, { retryAfterMs: decision.retryAfterMs }));
  }

  as(): RateLimitRepository {
    return this as unknown as RateLimitRepository;
  }
}

/** Notifications and each user's gapless `user:<id>` log, in memory. */
export class FakeNotifications implements Pick<NotificationRepository, 'append' | 'lastSeq'> {
  readonly logs = new Map<number, StreamEntry[]>();

  *append(n: NewNotification): Unit<{ notification: NotificationEntity; entry: StreamEntry }> {
    const log = this.logs.get(n.userId) ?? [];
    this.logs.set(n.userId, log);
    const seq = log.length + 1;
    const notification: NotificationEntity = { ...n, seq, createdAt: NOW, read: false, link: n.link ?? null };
    const entry: StreamEntry = { stream: `user:${n.userId}`, seq, type: 'notification', data: notificationPayload(notification), createdAt: NOW };
    log.push(entry);
    return { notification, entry };
  }

  lastSeq(userId: number): Promise<number> {
    return Promise.resolve(this.logs.get(userId)?.length ?? 0);
  }

  as(): NotificationRepository {
    return this as unknown as NotificationRepository;
  }
}

/** The parts of the configuration the services read, with small limits. */
export function fakeConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return { chatMaxTextChars: 40, blogMaxUpdateChars: 60, ...overrides } as AppConfig;
}
