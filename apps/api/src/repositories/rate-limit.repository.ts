import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { DomainError } from '../domain/errors.js';
import { RedisRepository } from './redis.repository.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * What a limit applies to, each with its own allowance (README, Configuration):
 * - `chat`: new chat messages (CHAT_RATE_BURST, CHAT_RATE_PER_SECOND);
 * - `write`: edits and deletes of messages, blog updates and their edits and deletes, the end of
 *   a blog, test notifications (WRITE_RATE_BURST, WRITE_RATE_PER_SECOND);
 * - `create`: new rooms and blogs, which every user sees listed (CREATE_RATE_BURST, CREATE_RATE_PER_MINUTE);
 * - `board`: board segments, undos and clears (BOARD_RATE_BURST, BOARD_RATE_PER_SECOND);
 * - `cursor`: board cursor updates (BOARD_CURSORS_PER_SECOND, a burst of as many).
 */
export type RatePolicy = 'chat' | 'write' | 'create' | 'board' | 'cursor';

/**
 * A token bucket in Redis, taken from in one step on the server. KEYS[1]: the bucket (a hash of
 * tokens `t` and last update `u`, epoch ms). ARGV: burst, tokens per ms, now. Returns 0 when a
 * token was taken, else the milliseconds until one will be there. A clock behind the bucket's
 * (another instance's) adds nothing rather than going back. The key expires once full again.
 */
const TAKE = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(b[1]) or burst
local updated = tonumber(b[2]) or now
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * perMs)
  updated = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + 1000)
return wait
`;

/**
 * Token buckets per policy and key (a user): `burst` at once, then a sustained rate. The `write`
 * and `create` buckets live in Redis when REDIS_URL is set, so a user spread over several
 * instances gets one allowance (while Redis is unreachable, each instance counts on its own, as
 * without Redis). The `chat` buckets stay in this process: they are asked on every chat message,
 * the benchmarked hot path, where a Redis round trip each would cost more than the rest of the
 * write; spread over n instances, a user gets n chat allowances. So do the `board` and `cursor`
 * buckets (60 segments a second per drawer).
 */
@Injectable()
export class RateLimitRepository {
  private readonly logger = new Logger('RateLimit');
  private readonly buckets = new Map<string, Bucket>();
  private readonly policies: Record<RatePolicy, { burst: number; perMs: number }>;
  /** Logged once per outage. */
  private down = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() private readonly redis?: RedisRepository,
  ) {
    this.policies = {
      chat: { burst: config.chatRateBurst, perMs: config.chatRatePerSecond / 1000 },
      write: { burst: config.writeRateBurst, perMs: config.writeRatePerSecond / 1000 },
      create: { burst: config.createRateBurst, perMs: config.createRatePerMinute / 60_000 },
      board: { burst: config.boardRateBurst, perMs: config.boardRatePerSecond / 1000 },
      cursor: { burst: config.boardCursorsPerSecond, perMs: config.boardCursorsPerSecond / 1000 },
    };
  }

  /** Takes one token from `key`'s bucket of the `chat` policy. */
  take(key: string, now = performance.now()): RateDecision {
    return this.takeFrom('chat', key, now);
  }

  takeFrom(policy: RatePolicy, key: string, now = performance.now()): RateDecision {
    const { burst, perMs } = this.policies[policy];
    const id = policy === 'chat' ? key : `${policy}\0${key}`;
    const bucket = this.buckets.get(id) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.buckets.set(id, bucket);
      this.prune(now);
      return { allowed: true };
    }
    this.buckets.set(id, bucket);
    return { allowed: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / perMs) };
  }

  /**
   * Takes a token (across instances, see the class) or throws `rate_limited` (HTTP 429 with
   * Retry-After; a WebSocket `error` frame) with `retryAfterMs`.
   */
  async enforce(policy: Exclude<RatePolicy, 'chat'>, key: string | number, what: string): Promise<void> {
    const decision = await this.takeShared(policy, String(key));
    if (!decision.allowed) {
      throw new DomainError('rate_limited', `Too many ${what}; try again in ${decision.retryAfterMs} ms`, { retryAfterMs: decision.retryAfterMs });
    }
  }

  /** A token from the policy's bucket in Redis, or from this instance's while Redis is unreachable. */
  private async takeShared(policy: RatePolicy, key: string): Promise<RateDecision> {
    if (!this.redis) return this.takeFrom(policy, key);
    const { burst, perMs } = this.policies[policy];
    try {
      const wait = Number(await this.redis.commands.eval(TAKE, 1, this.redis.key(`rate:${policy}:${key}`), burst, perMs, Date.now()));
      this.down = false;
      return wait === 0 ? { allowed: true } : { allowed: false, retryAfterMs: wait };
    } catch (err) {
      if (!this.down) this.logger.warn(`Redis unavailable for rate limits, counting on this instance: ${err instanceof Error ? err.message : String(err)}`);
      this.down = true;
      return this.takeFrom(policy, key);
    }
  }

  /** Forget full buckets now and then, so idle users cost nothing. */
  private prune(now: number): void {
    if (this.buckets.size < 10_000) return;
    for (const [id, bucket] of this.buckets) {
      const policy = this.policies[policyOf(id)];
      if (bucket.tokens + (now - bucket.updatedAt) * policy.perMs >= policy.burst) this.buckets.delete(id);
    }
  }
}

function policyOf(id: string): RatePolicy {
  const cut = id.indexOf('\0');
  return cut < 0 ? 'chat' : (id.slice(0, cut) as RatePolicy);
}
