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
    return { user, token: this.crypto.signSession(user.id) };
  }

  async login(username: string, password: string): Promise<Session> {
    const user = await this.users.findByUsernameWithPassword(username);
    const ok = user
      ? await this.crypto.verifyPassword(password, user.passwordHash)
      : await this.crypto.verifyPassword(password, await (decoyHash ??= this.crypto.hashPassword('decoy-password')));
    if (!user || !ok) throw new DomainError('unauthenticated', 'Invalid username or password');
    return { user: { id: user.id, username: user.username }, token: this.crypto.signSession(user.id) };
  }

  /**
   * The one authentication path, for HTTP requests, the WebSocket upgrade and SSE streams alike:
   * the `Cookie` header in, the signed-in user (or null) out. A token must verify (HS256, our
   * secret, not expired) and name a user who still exists.
   */
  async authenticate(cookieHeader: string | undefined): Promise<UserEntity | null> {
    if (!cookieHeader) return null;
    const token = parseCookies(cookieHeader)[SESSION_COOKIE];
    if (!token) return null;
    const claims = this.crypto.verifySession(token);
    if (!claims || !/^[1-9][0-9]{0,15}$/.test(claims.sub)) return null;
    return this.users.findById(Number(claims.sub));
  }
}
