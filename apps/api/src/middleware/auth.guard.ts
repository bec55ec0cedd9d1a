import { createParamDecorator, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { UserEntity } from '../domain/entities.js';
import { AuthService, type AuthenticatedSession } from '../services/auth.service.js';

type AuthedRequest = Request & { user?: UserEntity; sessionExpiresAt?: number; session?: AuthenticatedSession };

/** Lets a request through only with a valid session cookie (checked by AuthService.authenticate). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const session = await this.auth.authenticateSession(request.headers.cookie);
    if (!session) throw new UnauthorizedException('Sign in required');
    request.user = session.user;
    request.sessionExpiresAt = session.expiresAt;
    request.session = session;
    return true;
  }
}

/** The user the AuthGuard let in. */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext): UserEntity => {
  const user = context.switchToHttp().getRequest<AuthedRequest>().user;
  if (!user) throw new UnauthorizedException('Sign in required');
  return user;
});

/** When the session the AuthGuard let in expires (epoch ms). */
export const SessionExpiresAt = createParamDecorator((_: unknown, context: ExecutionContext): number => {
  const expiresAt = context.switchToHttp().getRequest<AuthedRequest>().sessionExpiresAt;
  if (expiresAt === undefined) throw new UnauthorizedException('Sign in required');
  return expiresAt;
});

/** The session the AuthGuard let in: user, expiry and id. */
export const CurrentSession = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const session = context.switchToHttp().getRequest<AuthedRequest>().session;
  if (!session) throw new UnauthorizedException('Sign in required');
  return session;
});
