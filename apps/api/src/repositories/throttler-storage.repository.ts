import { Logger } from '@nestjs/common';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type { RedisRepository } from './redis.repository.js';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * One fixed window per key and a block once the limit is passed, in one round trip:
 * KEYS[1] counts hits (expires with the window), KEYS[2] marks the block (expires with it).
 * Returns {hits, window ms left, blocked 0|1, block ms left}.
 */
const INCREMENT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]), 1, blocked}
end
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, left, 1, tonumber(ARGV[3])}
end
return {hits, left, 0, 0}
`;

/**
 * @nestjs/throttler's storage in Redis (REDIS_URL), so the sign-in and sign-up limits hold across
 * instances: a client that spreads its attempts over n instances still gets one allowance. While
 * Redis is unreachable each instance counts on its own (the library's in-memory storage) rather
 * than refusing every sign-in or letting every attempt through.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('Throttler');
  private readonly local = new ThrottlerStorageService();
  /** Logged once per outage, not once per request. */
  private down = false;

  constructor(private readonly redis: RedisRepository) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    try {
      const base = this.redis.key(`throttle:${throttlerName}:${key}`);
      const [hits, left, blocked, blockLeft] = (await this.redis.commands.eval(INCREMENT, 2, base, `${base}:block`, ttl, limit, blockDuration)) as number[];
      this.down = false;
      return { totalHits: hits!, timeToExpire: Math.ceil(Math.max(0, left!) / 1000), isBlocked: blocked === 1, timeToBlockExpire: Math.ceil(blockLeft! / 1000) };
    } catch (err) {
      if (!this.down) this.logger.warn(`Redis unavailable for rate limits, counting on this instance: ${err instanceof Error ? err.message : String(err)}`);
      this.down = true;
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  onApplicationShutdown(): void {
    this.local.onApplicationShutdown();
  }
}
