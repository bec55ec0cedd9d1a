import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { RedisRepository } from './redis.repository.js';

/** What a refused connection is told to wait, in seconds (`Retry-After`). */
export const CONNECTION_RETRY_AFTER_SECONDS = 5;

/**
 * Open connections per subject (`ws:user:12`, `sse:user:12`, `sse:ip:203.0.113.9`), so one user
 * or one address cannot hold thousands of sockets. `acquire` is called before any work is done
 * for a connection and returns its slot, or null when the subject is at its cap.
 */
export abstract class ConnectionLimitRepository {
  abstract acquire(subject: string, cap: number): Promise<ConnectionSlot | null>;
  /** Gives a slot of `subject` back (ConnectionSlot.release calls it, once). */
  abstract give(subject: string): void;
}

/**
 * One connection's place under its subject's cap: `release` gives it back, once however often it
 * is called. A small object rather than a closure: a WebSocket holds it as long as it is open,
 * and 10,000 idle sockets each holding two closures cost 2 MiB.
 */
export class ConnectionSlot {
  private released = false;

  constructor(
    private readonly owner: ConnectionLimitRepository,
    readonly subject: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.give(this.subject);
  }
}

/** Counts of this instance's connections; also the fallback of the Redis one. */
class LocalCounts {
  readonly counts = new Map<string, number>();

  take(subject: string, cap: number, others = 0): boolean {
    const n = this.counts.get(subject) ?? 0;
    if (n + others >= cap) return false;
    this.counts.set(subject, n + 1);
    return true;
  }

  give(subject: string): void {
    const n = (this.counts.get(subject) ?? 1) - 1;
    if (n > 0) this.counts.set(subject, n);
    else this.counts.delete(subject);
  }
}

/** One instance: the counts live in this process. */
@Injectable()
export class InProcessConnectionLimitRepository extends ConnectionLimitRepository {
  private readonly local = new LocalCounts();

  acquire(subject: string, cap: number): Promise<ConnectionSlot | null> {
    return Promise.resolve(this.local.take(subject, cap) ? new ConnectionSlot(this, subject) : null);
  }

  give(subject: string): void {
    this.local.give(subject);
  }
}

/**
 * Sums the live instances' counts of a subject and takes a slot, in one step on the server.
 * KEYS[1]: the subject's hash (instance -> count); KEYS[2]: the instances' zset (score: alive
 * until, epoch ms). ARGV: this instance, the cap, now, the instance TTL in ms. This instance is
 * marked alive first; fields of dead instances are dropped.
 */
const ACQUIRE = `
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local until_ = redis.call('ZSCORE', KEYS[2], fields[i])
  if fields[i] == ARGV[1] or (until_ and tonumber(until_) > tonumber(ARGV[3])) then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
`;

/**
 * Several instances (REDIS_URL): a subject's connections are counted over every live instance,
 * so a user spread over n instances still gets one allowance. Each instance keeps its own counts
 * and writes them to Redis; it marks itself alive every third of INSTANCE_TTL_SECONDS, so a
 * crashed instance's connections stop counting within that TTL. While Redis is unreachable each
 * instance enforces the cap on its own connections (and rewrites its counts when Redis returns).
 */
@Injectable()
export class RedisConnectionLimitRepository extends ConnectionLimitRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ConnectionLimits');
  private readonly local = new LocalCounts();
  /** Subjects whose count Redis may not know (a write failed). */
  private readonly dirty = new Set<string>();
  private readonly instancesKey: string;
  private timer?: NodeJS.Timeout;
  private down = false;

  constructor(
    private readonly redis: RedisRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
    this.instancesKey = redis.key('conn:instances');
  }

  /** Alive from the first acquire on (which marks the instance); then refreshed on a timer. */
  onModuleInit(): void {
    this.timer = setInterval(() => void this.refresh(), Math.max(1000, (this.config.instanceTtlSeconds * 1000) / 3));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.commands.zrem(this.instancesKey, this.config.instanceId).catch(() => undefined);
  }

  async acquire(subject: string, cap: number): Promise<ConnectionSlot | null> {
    const key = this.redis.key(`conn:${subject}`);
    try {
      const ok = (await this.redis.commands.eval(ACQUIRE, 2, key, this.instancesKey, this.config.instanceId, cap, Date.now(), this.config.instanceTtlSeconds * 1000)) === 1;
      this.down = false;
      if (!ok) return null;
      this.local.counts.set(subject, (this.local.counts.get(subject) ?? 0) + 1);
    } catch (err) {
      this.unavailable(err);
      if (!this.local.take(subject, cap)) return null;
      this.dirty.add(subject);
    }
    return new ConnectionSlot(this, subject);
  }

  give(subject: string): void {
    this.local.give(subject);
    this.redis.commands.hincrby(this.redis.key(`conn:${subject}`), this.config.instanceId, -1).catch((err: unknown) => {
      this.unavailable(err);
      this.dirty.add(subject);
    });
  }

  /** Marks this instance alive and rewrites the counts Redis may have missed. */
  private async refresh(): Promise<void> {
    const batch = this.redis.commands.multi().zadd(this.instancesKey, Date.now() + this.config.instanceTtlSeconds * 1000, this.config.instanceId);
    const subjects = [...this.dirty];
    for (const subject of subjects) {
      const n = this.local.counts.get(subject) ?? 0;
      if (n > 0) batch.hset(this.redis.key(`conn:${subject}`), this.config.instanceId, n);
      else batch.hdel(this.redis.key(`conn:${subject}`), this.config.instanceId);
    }
    try {
      await batch.exec();
      for (const subject of subjects) this.dirty.delete(subject);
      this.down = false;
    } catch (err) {
      this.unavailable(err);
    }
  }

  private unavailable(err: unknown): void {
    if (!this.down) this.logger.warn(`Redis unavailable for connection caps, counting on this instance: ${err instanceof Error ? err.message : String(err)}`);
    this.down = true;
  }
}
