import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { Response } from 'express';
import type { AppConfig } from '../config/app-config.js';

/** Names of the sign-in and sign-up limits (each route skips the ones that are not its own). */
export const THROTTLE = { loginAccount: 'login-account', loginIp: 'login-ip', registerIp: 'register-ip' } as const;

/** The account a sign-in names, as the limit's key: the same for every spelling of it. */
function account(req: Record<string, unknown>): string {
  const username = (req.body as { username?: unknown } | undefined)?.username;
  return typeof username === 'string' ? username.trim().toLowerCase().slice(0, 64) : '';
}

/**
 * The limits on POST /api/auth/login and /register (see the README's table): sign-in attempts
 * per account name and per client IP, sign-ups per IP, each in a fixed window of
 * AUTH_WINDOW_SECONDS, counted whatever the outcome, then refused with 429 until the window ends.
 * `req.ip` honours X-Forwarded-For from a proxy on loopback only (`trust proxy`).
 */
export function authThrottlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const ttl = config.authWindowSeconds * 1000;
  return {
    errorMessage: 'Too many attempts; try again later',
    throttlers: [
      { name: THROTTLE.loginAccount, ttl, limit: config.loginLimitPerAccount, getTracker: account, setHeaders: false },
      { name: THROTTLE.loginIp, ttl, limit: config.loginLimitPerIp, setHeaders: false },
      { name: THROTTLE.registerIp, ttl, limit: config.registerLimitPerIp, setHeaders: false },
    ],
  };
}

/**
 * @nestjs/throttler's guard, answering a refusal with a plain `Retry-After` (seconds until the
 * block ends): the library names the header after the limit (`Retry-After-login-ip`), which no
 * client reads.
 */
@Injectable()
export class AuthThrottleGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(context: ExecutionContext, detail: { timeToBlockExpire: number }): Promise<void> {
    context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(Math.max(1, detail.timeToBlockExpire)));
    throw new ThrottlerException(await this.getErrorMessage(context, detail as never));
  }
}
