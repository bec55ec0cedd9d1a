import { Inject, Injectable } from '@nestjs/common';
import { parse as parseCookies } from 'cookie';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { passwordProblem } from '../domain/password-policy.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { UserRepository } from '../repositories/user.repository.js';

export const SESSION_COOKIE = 'session';

/** A freshly signed-in user and the token to put in their session cookie. */
export interface Session {
  user: UserEntity;
  token: string;
  /** When the token expires, epoch ms. */
  expiresAt: number;
}

/** An authenticated request's user, its session and when the session's token expires (epoch ms). */
export interface AuthenticatedSession {
  user: UserEntity;
  expiresAt: number;
  /** The session's id: its connections are ended when it is revoked. */
  sessionId: string;
}

// A hash of a random password: login compares against it when the user does not exist,
// so a missing account takes as long to refuse as a wrong password.
let decoyHash: Promise<string> | undefined;

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly crypto: CryptoRepository,
    private readonly bus: EventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async register(username: string, password: string): Promise<Session> {
    const problem = passwordProblem(password, username, this.config.passwordMinLength);
    if (problem) throw new DomainError('invalid', problem);
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
   * Sliding renewal: a still-valid session gets a fresh token with a new expiry, and the token it
   * was renewed with stops working at once (the session's row names only the newest). The
   * session stays the same, so its open connections stay open. An expired one cannot be renewed
   * (the user signs in again).
   */
  async refresh(cookieHeader: string | undefined): Promise<Session> {
    const claims = this.claims(cookieHeader);
    const session = claims && (await this.authenticateClaims(claims));
    if (!claims || !session) throw new DomainError('unauthenticated', 'Sign in required');
    const expiresAt = this.crypto.sessionExpiry();
    const tokenId = await this.sessions.rotate(claims.sid, claims.jti, expiresAt);
    if (!tokenId) throw new DomainError('unauthenticated', 'Sign in required');
    return { user: session.user, token: this.crypto.signSession(session.user.id, claims.sid, tokenId, expiresAt), expiresAt };
  }

  /**
   * Signing out revokes the session: its row is deleted, so its token no longer authenticates
   * anywhere, and every instance ends its open WebSockets (4001) and event streams
   * (`auth-expired`). A cookie that names no live session changes nothing.
   */
  async logout(cookieHeader: string | undefined): Promise<void> {
    const claims = this.claims(cookieHeader);
    if (!claims) return;
    if (await this.sessions.delete(claims.sid)) await this.bus.publish({ type: 'auth.session.revoked', sessionId: claims.sid });
  }

  private async issue(user: UserEntity): Promise<Session> {
    const expiresAt = this.crypto.sessionExpiry();
    const { id, tokenId } = await this.sessions.create(user.id, expiresAt);
    return { user, token: this.crypto.signSession(user.id, id, tokenId, expiresAt), expiresAt };
  }

  /**
   * The one authentication path, for HTTP requests, the WebSocket upgrade and SSE streams alike:
   * the `Cookie` header in, the signed-in user (or null) out. A token must verify (HS256, our
   * secret, not expired) and be the current token of a session that still exists.
   */
  async authenticate(cookieHeader: string | undefined): Promise<UserEntity | null> {
    return (await this.authenticateSession(cookieHeader))?.user ?? null;
  }

  /** {@link authenticate}, with the session's id and expiry. */
  async authenticateSession(cookieHeader: string | undefined): Promise<AuthenticatedSession | null> {
    const claims = this.claims(cookieHeader);
    return claims ? this.authenticateClaims(claims) : null;
  }

  private claims(cookieHeader: string | undefined) {
    if (!cookieHeader) return null;
    const token = parseCookies(cookieHeader)[SESSION_COOKIE];
    if (!token) return null;
    const claims = this.crypto.verifySession(token);
    if (!claims || !/^[1-9][0-9]{0,15}$/.test(claims.sub)) return null;
    return claims;
  }

  private async authenticateClaims(claims: NonNullable<ReturnType<AuthService['claims']>>): Promise<AuthenticatedSession | null> {
    const session = await this.sessions.find(claims.sid);
    if (!session || session.tokenId !== claims.jti || String(session.user.id) !== claims.sub || session.expiresAt <= Date.now()) return null;
    return { user: session.user, expiresAt: claims.exp * 1000, sessionId: session.id };
  }
}
