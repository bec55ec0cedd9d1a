import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { DomainEvent } from '../domain/events.js';
import { RedisRepository } from './redis.repository.js';

export type DomainEventHandler = (event: DomainEvent) => void;

/**
 * Carries committed domain events to every instance's fan-out. Publishers call it only after the
 * change is durable, so a subscriber that misses an event (a dropped bus message, a restart) can
 * always recover it from the database log: the bus is a doorbell, the log is the truth.
 */
export abstract class EventBus {
  private readonly resyncHandlers = new Set<() => void>();

  abstract publish(event: DomainEvent): Promise<void>;
  /** Returns a function that removes the handler. */
  abstract subscribe(handler: DomainEventHandler): () => void;

  /**
   * `handler` runs whenever events may have been lost on the way (the bus reconnected, or a
   * publish failed somewhere): readers should then read their logs past their position rather
   * than wait for the next event to reveal the gap. Returns a function that removes it.
   */
  onResync(handler: () => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  /** Resolves once every publish already started has reached the bus (or failed). */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  protected resync(): void {
    for (const handler of this.resyncHandlers) handler();
  }
}

/** Calls every handler in order; one that throws is logged and does not stop the others. */
function dispatch(handlers: Iterable<DomainEventHandler>, event: DomainEvent, logger: Logger): void {
  for (const handler of handlers) {
    try {
      handler(event);
    } catch (err) {
      logger.error(`handler failed for ${event.type}`, err instanceof Error ? err.stack : String(err));
    }
  }
}

/** The embedded default: one process, handlers called synchronously in publish order. */
@Injectable()
export class InProcessEventBus extends EventBus {
  private readonly logger = new Logger('EventBus');
  private readonly handlers = new Set<DomainEventHandler>();

  publish(event: DomainEvent): Promise<void> {
    dispatch(this.handlers, event, this.logger);
    return Promise.resolve();
  }

  subscribe(handler: DomainEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
}

/** What travels on the channel: an event, or a request to resync, with the sender's instance id. */
type Envelope = { from: string; event: DomainEvent } | { from: string; resync: true };

/**
 * Redis pub/sub between instances (REDIS_URL). An event is handed to this instance's handlers at
 * once, exactly as the in-process bus does, and published on one channel for the others; each
 * instance skips its own messages when they come back. So local readers never wait for Redis,
 * and the figure the benchmark reports for the Redis hop is what a remote reader pays.
 *
 * Redis pub/sub delivers at most once. Nothing is lost for readers, because every sequenced
 * event is in the database log:
 * - a reader that sees seq N+2 before N+1 reads N+1 from the log (the gapless cursor);
 * - when the subscriber connection comes back after an outage, this instance resyncs its
 *   readers (they read their logs past their position), since it missed whatever was published
 *   meanwhile;
 * - when a publish fails here, the others missed an event without knowing: once Redis is
 *   reachable again this instance publishes a resync request, and every instance resyncs;
 * - an instance killed between a commit and its publish cannot ask: every instance keeps an
 *   expiring entry in Redis (INSTANCE_TTL_SECONDS), and the instance that sweeps a dead one's
 *   entry asks everyone to resync.
 * Presence and typing are not logged; presence is re-read from Redis on the next change.
 */
@Injectable()
export class RedisEventBus extends EventBus implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('EventBus');
  private readonly handlers = new Set<DomainEventHandler>();
  private readonly channel: string;
  private readonly from: string;
  /** A publish failed: the other instances owe their readers a resync. */
  private owed = false;
  private readonly pending = new Set<Promise<void>>();
  private readonly instancesKey: string;
  private readonly ttlMs: number;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super();
    this.channel = redis.key('events');
    this.instancesKey = redis.key('instances');
    this.from = config.instanceId;
    this.ttlMs = config.instanceTtlSeconds * 1000;
  }

  /** Does not wait for Redis: an instance starts without it and reports not ready until it comes. */
  onModuleInit(): void {
    this.redis.subscriber.on('message', this.onMessage);
    this.redis.subscriber.on('ready', this.onSubscriberReady);
    this.redis.commands.on('ready', this.onCommandsReady);
    if (this.redis.subscriber.status === 'ready') this.onSubscriberReady();
    this.heartbeat = setInterval(() => void this.liveness(), Math.max(1000, this.ttlMs / 3));
    this.heartbeat.unref();
    void this.liveness();
  }

  /**
   * Keeps this instance's entry in the registry alive and removes entries that expired. ZREM
   * answers 1 to one instance only, so exactly one asks for the resync a dead instance owes.
   */
  async liveness(now = Date.now()): Promise<void> {
    try {
      await this.redis.commands.zadd(this.instancesKey, now + this.ttlMs, this.from);
      const dead = await this.redis.commands.zrangebyscore(this.instancesKey, '-inf', now);
      for (const id of dead) {
        if (id === this.from || (await this.redis.commands.zrem(this.instancesKey, id)) !== 1) continue;
        this.logger.warn(`instance ${id} stopped without a goodbye; every instance resyncs its readers`);
        this.resync();
        await this.send({ from: this.from, resync: true });
      }
    } catch {
      // Redis is away: the publish path and readiness report it.
    }
  }

  override flush(): Promise<void> {
    return Promise.all(this.pending).then(() => undefined);
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
    // A clean stop owes nobody a resync: leave the registry now rather than expire.
    void this.redis.commands.zrem(this.instancesKey, this.from).catch(() => undefined);
    this.redis.subscriber.off('message', this.onMessage);
    this.redis.subscriber.off('ready', this.onSubscriberReady);
    this.redis.commands.off('ready', this.onCommandsReady);
  }

  async publish(event: DomainEvent): Promise<void> {
    dispatch(this.handlers, event, this.logger);
    const sent = this.send({ from: this.from, event });
    this.pending.add(sent);
    try {
      await sent;
    } finally {
      this.pending.delete(sent);
    }
  }

  subscribe(handler: DomainEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Never throws: the change is committed, and the log covers whatever Redis did not carry. */
  private async send(envelope: Envelope): Promise<void> {
    try {
      await this.redis.commands.publish(this.channel, JSON.stringify(envelope));
      if (this.owed && !('resync' in envelope)) await this.settle();
    } catch (err) {
      if (!this.owed) this.logger.warn(`publish failed (${err instanceof Error ? err.message : String(err)}); other instances will resync from the log`);
      this.owed = true;
    }
  }

  private async settle(): Promise<void> {
    this.owed = false;
    await this.send({ from: this.from, resync: true });
  }

  private readonly onMessage = (channel: string, raw: string): void => {
    if (channel !== this.channel) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
    } catch {
      this.logger.warn('dropped a bus message that is not JSON');
      return;
    }
    if (envelope.from === this.from) return;
    if ('resync' in envelope) this.resync();
    else dispatch(this.handlers, envelope.event, this.logger);
  };

  /**
   * Every (re)connection of the subscriber: subscribe (again: harmless if ioredis already did),
   * and once Redis confirms, resync, since anything published while we were away was missed.
   */
  private readonly onSubscriberReady = (): void => {
    this.redis.subscriber.subscribe(this.channel).then(
      () => this.resync(),
      (err: unknown) => this.logger.warn(`cannot subscribe (${err instanceof Error ? err.message : String(err)}); will on reconnect`),
    );
  };

  private readonly onCommandsReady = (): void => {
    if (this.owed) void this.settle();
  };
}
