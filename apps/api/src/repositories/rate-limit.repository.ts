import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { DomainError } from '../domain/errors.js';

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
 * - `create`: new rooms and blogs, which every user sees listed (CREATE_RATE_BURST, CREATE_RATE_PER_MINUTE).
 */
export type RatePolicy = 'chat' | 'write' | 'create';

/**
 * Token buckets per policy and key (a user): `burst` at once, then a sustained rate. Kept in this
 * process: a user spread over several instances gets each instance's allowance, which is a limit
 * on abuse, not a correctness property. A shared store can replace it behind the same method.
 */
@Injectable()
export class RateLimitRepository {
  private readonly buckets = new Map<string, Bucket>();
  private readonly policies: Record<RatePolicy, { burst: number; perMs: number }>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.policies = {
      chat: { burst: config.chatRateBurst, perMs: config.chatRatePerSecond / 1000 },
      write: { burst: config.writeRateBurst, perMs: config.writeRatePerSecond / 1000 },
      create: { burst: config.createRateBurst, perMs: config.createRatePerMinute / 60_000 },
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

  /** Takes a token or throws `rate_limited` (HTTP 429 with Retry-After; a WebSocket `error` frame) with `retryAfterMs`. */
  enforce(policy: RatePolicy, key: string | number, what: string): void {
    const decision = this.takeFrom(policy, String(key));
    if (!decision.allowed) {
      throw new DomainError('rate_limited', `Too many ${what}; try again in ${decision.retryAfterMs} ms`, { retryAfterMs: decision.retryAfterMs });
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
