import { Injectable } from '@nestjs/common';
import { parse as parseCookies } from 'cookie';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { UserRepository } from '../repositories/user.repository.js';

export const SESSION_COOKIE = 'session';

/** A freshly signed-in user and the token to put in their session cookie. */
export interface Session {
  user: UserEntity;
  token: string;
  /** When the token expires, epoch ms. */
  expiresAt: number;
}

/** An authenticated request's user and when their session token expires (epoch ms). */
export interface AuthenticatedSession {
  user: UserEntity;
  expiresAt: number;
}

// A hash of a random password: login compares against it when the user does not exist,
// so a missing account takes as long to refuse as a wrong password.
let decoyHash: Promise<string> | undefined;

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UserRepository,
    private readonly crypto: CryptoRepository,
  ) {}

  async register(username: string, password: string): Promise<Session> {
    const hash = await this.crypto.hashPassword(password);
    const user = await this.users.create(username, hash);
    if (!user) throw new DomainError('username_taken', 'That username is taken');
    return this.issue(user);
  }

  async login(username: string, password: string): Promise<Session> {
    const user = await this.users.findByUsernameWithPassword(username);
    const ok = user
      ? await this.crypto.verifyPassword(password, user.passwordHash)
      : await this.crypto.verifyPassword(password, await (decoyHash ??= this.crypto.hashPassword('decoy-password')));
    if (!user || !ok) throw new DomainError('unauthenticated', 'Invalid username or password');
    return this.issue({ id: user.id, username: user.username });
  }

  /**
   * Sliding renewal: a still-valid session gets a fresh token with a new expiry. An expired
   * one cannot be renewed (the user signs in again).
   */
  async refresh(cookieHeader: string | undefined): Promise<Session> {
    const session = await this.authenticateSession(cookieHeader);
    if (!session) throw new DomainError('unauthenticated', 'Sign in required');
    return this.issue(session.user);
  }

  private issue(user: UserEntity): Session {
    const { token, expiresAt } = this.crypto.signSession(user.id);
    return { user, token, expiresAt };
  }

  /**
   * The one authentication path, for HTTP requests, the WebSocket upgrade and SSE streams alike:
   * the `Cookie` header in, the signed-in user (or null) out. A token must verify (HS256, our
   * secret, not expired) and name a user who still exists.
   */
  async authenticate(cookieHeader: string | undefined): Promise<UserEntity | null> {
    return (await this.authenticateSession(cookieHeader))?.user ?? null;
  }

  /** {@link authenticate}, with the session's expiry. */
  async authenticateSession(cookieHeader: string | undefined): Promise<AuthenticatedSession | null> {
    if (!cookieHeader) return null;
    const token = parseCookies(cookieHeader)[SESSION_COOKIE];
    if (!token) return null;
    const claims = this.crypto.verifySession(token);
    if (!claims || !/^[1-9][0-9]{0,15}$/.test(claims.sub)) return null;
    const user = await this.users.findById(Number(claims.sub));
    return user ? { user, expiresAt: claims.exp * 1000 } : null;
  }
}
