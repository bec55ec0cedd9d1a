import { Inject, Injectable } from '@nestjs/common';
import { createSecretKey, randomBytes, scrypt, timingSafeEqual, type KeyObject, type ScryptOptions } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pLimit, { type LimitFunction } from 'p-limit';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { DomainError } from '../domain/errors.js';

/** Claims we put in a session token. */
export interface SessionClaims {
  /** User id, as a string (JWT convention). */
  sub: string;
  /** The session's id (its row in the Session table). */
  sid: string;
  /** This token's id: the session's current one, until a renewal replaces it. */
  jti: string;
  /** Issued-at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
}

// scrypt cost: N=2^15, r=8, p=1 (OWASP's recommended minimum), 64-byte key, 16-byte salt.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LENGTH = 64;
/** Session tokens remembered as verified (a user's tabs and reconnects present the same one). */
const VERIFIED_TOKENS = 10_000;

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Password hashing and session tokens: every piece of cryptography the app uses, in one place. */
@Injectable()
export class CryptoRepository {
  /**
   * Every scrypt runs through this line: at most PASSWORD_HASH_CONCURRENCY at once, so a flood of
   * sign-ins holds that many of libuv's four threads (file reads, DNS and the rest keep the
   * others) and that many 32 MiB work areas, and waits in line instead of piling up.
   */
  private readonly hashing: LimitFunction;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.hashing = pLimit(config.passwordHashConcurrency);
  }

  /** Hashes running and waiting (for tests and metrics). */
  get hashQueue(): { active: number; pending: number } {
    return { active: this.hashing.activeCount, pending: this.hashing.pendingCount };
  }

  /**
   * Runs one scrypt in line. When PASSWORD_HASH_QUEUE are already waiting, refuses at once with
   * `busy` (503 with Retry-After): a flood costs a queue entry, not memory and minutes of wait.
   */
  private scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
    if (this.hashing.pendingCount >= this.config.passwordHashQueue && this.hashing.activeCount >= this.hashing.concurrency) {
      return Promise.reject(new DomainError('busy', 'Too many sign-ins at once; retry shortly', { retryAfterMs: 1000 }));
    }
    return this.hashing(() => scryptAsync(password, salt, keylen, options));
  }

  /** Hash a password as `scrypt$N$r$p$salt$key` (base64url parts). */
  async hashPassword(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.scrypt(password, salt, KEY_LENGTH, SCRYPT);
    return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  /** Constant-time check of a password against a stored hash; false for any malformed hash. */
  async verifyPassword(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, key] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !key) return false;
    const expected = Buffer.from(key, 'base64url');
    const actual = await this.scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: SCRYPT.maxmem,
    });
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  private secretKey?: KeyObject;

  /**
   * The secret as a KeyObject, made once. Given a string, jsonwebtoken first tries to parse it
   * as a PEM public key, which throws and is caught on every call: about 2.5 ms of CPU per
   * WebSocket upgrade, found by profiling the benchmark's connection storms.
   */
  private key(): KeyObject {
    return (this.secretKey ??= createSecretKey(Buffer.from(this.config.jwtSecret, 'utf8')));
  }

  /** When a session token issued now expires (epoch ms, whole seconds as in `exp`). */
  sessionExpiry(): number {
    return (Math.floor(Date.now() / 1000) + this.config.sessionTtlSeconds) * 1000;
  }

  /** A signed HS256 session token for a user's session, expiring at `expiresAt` (epoch ms). */
  signSession(userId: number, sessionId: string, tokenId: string, expiresAt: number): string {
    const exp = Math.floor(expiresAt / 1000);
    return jwt.sign({ iat: Math.floor(Date.now() / 1000), exp, sid: sessionId }, this.key(), { algorithm: 'HS256', subject: String(userId), jwtid: tokenId });
  }

  /**
   * Verifies a session token. Only HS256 with our secret is accepted (so `alg: none` and
   * tokens signed with a public key as HMAC secret are refused), and `exp` is required.
   * Returns null for anything that does not verify.
   */
  verifySession(token: string): SessionClaims | null {
    // A token is immutable and its signature covers every claim: once verified it stays valid
    // until its `exp`, so the same token (a user's tabs, a reconnect storm) is verified once.
    // jsonwebtoken's verify costs about 140 µs of CPU; a hit is a Map lookup.
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() < known.exp * 1000) return known;
      this.verified.delete(token);
      return null;
    }
    let claims: SessionClaims;
    try {
      const payload = jwt.verify(token, this.key(), { algorithms: ['HS256'] });
      if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
      const { sid, jti } = payload as { sid?: unknown; jti?: unknown };
      if (typeof sid !== 'string' || typeof jti !== 'string') return null;
      claims = { sub: payload.sub, sid, jti, iat: payload.iat ?? 0, exp: payload.exp };
    } catch {
      return null;
    }
    if (this.verified.size >= VERIFIED_TOKENS) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  /** Tokens that verified, oldest first (bounded: the oldest goes when full). */
  private readonly verified = new Map<string, SessionClaims>();
}
