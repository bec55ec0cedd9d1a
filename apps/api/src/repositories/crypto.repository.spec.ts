import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { CryptoRepository } from './crypto.repository.js';

const config = { jwtSecret: 'a-secret-that-is-long-enough-for-hs256-0123', sessionTtlSeconds: 60, passwordHashConcurrency: 1, passwordHashQueue: 1 } as AppConfig;

describe('CryptoRepository.verifySession', () => {
  afterEach(() => vi.useRealTimers());

  it('verifies a token once, and refuses it from memory too once it has expired', () => {
    vi.useFakeTimers({ now: 1_000_000_000_000 });
    const crypto = new CryptoRepository(config);
    const token = crypto.signSession(7, 's-1', 't-1', Date.now() + 60_000);
    const verify = vi.spyOn(jwt, 'verify');
    expect(crypto.verifySession(token)).toMatchObject({ sub: '7' });
    expect(crypto.verifySession(token)).toMatchObject({ sub: '7' });
    expect(verify).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(crypto.verifySession(token)).toBeNull();
    expect(crypto.verifySession(token)).toBeNull();
  });

  it('never lets a tampered, foreign or alg:none token in, however often it is tried', () => {
    const crypto = new CryptoRepository(config);
    const token = crypto.signSession(7, 's-1', 't-1', Date.now() + 60_000);
    const [head, , signature] = token.split('.');
    const forged = `${head}.${Buffer.from(JSON.stringify({ sub: '1', exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    const foreign = jwt.sign({ sub: '7', exp: 9_999_999_999 }, 'another-secret-that-is-long-enough-012345');
    const none = jwt.sign({ sub: '7', exp: 9_999_999_999 }, '', { algorithm: 'none' });
    for (let i = 0; i < 2; i++) for (const bad of [forged, foreign, none, 'garbage']) expect(crypto.verifySession(bad)).toBeNull();
    expect(crypto.verifySession(token)).toMatchObject({ sub: '7' });
  });
});
