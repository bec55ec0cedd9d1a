import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import type { RedisRepository } from './redis.repository.js';
import { RateLimitRepository } from './rate-limit.repository.js';

const limiter = () => new RateLimitRepository({ chatRateBurst: 3, chatRatePerSecond: 2 } as AppConfig);

describe('RateLimitRepository', () => {
  it('allows a burst, then refuses with the time until the next token', () => {
    const rl = limiter();
    expect([0, 0, 0].map(() => rl.take('u', 1000).allowed)).toEqual([true, true, true]);
    expect(rl.take('u', 1000)).toEqual({ allowed: false, retryAfterMs: 500 });
    expect(rl.take('u', 1250)).toEqual({ allowed: false, retryAfterMs: 250 });
    expect(rl.take('u', 1500)).toEqual({ allowed: true });
  });

  it('refills at the sustained rate up to the burst, and keeps keys apart', () => {
    const rl = limiter();
    for (let i = 0; i < 3; i++) rl.take('a', 0);
    expect(rl.take('b', 0).allowed).toBe(true);
    // After 10 s, only `burst` tokens are back, not 20.
    expect([1, 2, 3, 4].map(() => rl.take('a', 10_000).allowed)).toEqual([true, true, true, false]);
  });
});

describe('RateLimitRepository policies', () => {
  const config = { chatRateBurst: 3, chatRatePerSecond: 2, writeRateBurst: 2, writeRatePerSecond: 1, createRateBurst: 1, createRatePerMinute: 2 } as AppConfig;
  it('keeps each policy its own allowance for the same user', () => {
    const rl = new RateLimitRepository(config);
    expect([0, 0].map(() => rl.takeFrom('write', 'u', 0).allowed)).toEqual([true, true]);
    expect(rl.takeFrom('write', 'u', 0)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(rl.take('u', 0).allowed).toBe(true);
    expect(rl.takeFrom('create', 'u', 0).allowed).toBe(true);
    // Two per minute: the next one in 30 s.
    expect(rl.takeFrom('create', 'u', 0)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(rl.takeFrom('create', 'u', 30_000).allowed).toBe(true);
  });
});

describe('RateLimitRepository with Redis', () => {
  const config = { writeRateBurst: 2, writeRatePerSecond: 1, createRateBurst: 1, createRatePerMinute: 1 } as AppConfig;
  it('counts on this instance while Redis is unreachable', async () => {
    const redis = { key: (k: string) => k, commands: { eval: () => Promise.reject(new Error('connection refused')) } } as unknown as RedisRepository;
    const rl = new RateLimitRepository(config, redis);
    await rl.enforce('write', 'u', 'writes');
    await rl.enforce('write', 'u', 'writes');
    await expect(rl.enforce('write', 'u', 'writes')).rejects.toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/^Too many writes; try again in \d+ ms$/) });
  });

  it("takes Redis's answer: 0 is a token, anything else the wait in ms", async () => {
    const answers = [0, 750];
    const redis = { key: (k: string) => `p:${k}`, commands: { eval: (_: string, __: number, key: string) => (expect(key).toBe('p:rate:create:7'), Promise.resolve(answers.shift())) } } as unknown as RedisRepository;
    const rl = new RateLimitRepository(config, redis);
    await rl.enforce('create', 7, 'rooms');
    await expect(rl.enforce('create', 7, 'rooms')).rejects.toMatchObject({ code: 'rate_limited', details: { retryAfterMs: 750 } });
  });
});
