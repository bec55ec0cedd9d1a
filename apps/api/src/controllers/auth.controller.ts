import { Body, Controller, Get, Headers, HttpCode, Post, Res, UseGuards, Inject } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiConflictResponse, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import type { UserEntity } from '../domain/entities.js';
import { CredentialsDto, SessionResponseDto, toSessionResponse } from '../dtos/auth.dto.js';
import { AuthThrottleGuard, THROTTLE } from '../middleware/auth-throttle.guard.js';
import { AuthGuard, CurrentUser, SessionExpiresAt } from '../middleware/auth.guard.js';
import { AuthService, SESSION_COOKIE, type Session } from '../services/auth.service.js';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('register')
  @UseGuards(AuthThrottleGuard)
  @SkipThrottle({ [THROTTLE.loginAccount]: true, [THROTTLE.loginIp]: true })
  @ApiCreatedResponse({ type: SessionResponseDto, description: 'Signed up and signed in; sets the session cookie' })
  @ApiConflictResponse({ description: 'Username taken' })
  @ApiTooManyRequestsResponse({ description: 'Too many sign-ups from this IP (REGISTER_LIMIT_PER_IP); see Retry-After' })
  @ApiServiceUnavailableResponse({ description: 'Too many sign-ins and sign-ups waiting to be hashed; see Retry-After' })
  async register(@Body() body: CredentialsDto, @Res({ passthrough: true }) res: Response): Promise<SessionResponseDto> {
    return this.signIn(res, await this.auth.register(body.username, body.password));
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(AuthThrottleGuard)
  @SkipThrottle({ [THROTTLE.registerIp]: true })
  @ApiOkResponse({ type: SessionResponseDto, description: 'Signed in; sets the session cookie' })
  @ApiUnauthorizedResponse({ description: 'Invalid username or password' })
  @ApiTooManyRequestsResponse({ description: 'Too many attempts for this account or from this IP; see Retry-After' })
  @ApiServiceUnavailableResponse({ description: 'Too many sign-ins waiting to be hashed; see Retry-After' })
  async login(@Body() body: CredentialsDto, @Res({ passthrough: true }) res: Response): Promise<SessionResponseDto> {
    return this.signIn(res, await this.auth.login(body.username, body.password));
  }

  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Signed out: revokes the session (its token, WebSockets and event streams end everywhere) and clears the cookie' })
  async logout(@Headers('cookie') cookie: string | undefined, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.logout(cookie);
    res.clearCookie(SESSION_COOKIE, this.cookieOptions());
  }

  /** Sliding renewal: a still-valid session gets a fresh token (see docs/protocol.md). */
  @Post('refresh')
  @HttpCode(200)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: SessionResponseDto, description: 'A fresh session cookie with a new expiry; the old token stops working' })
  @ApiUnauthorizedResponse({ description: 'No valid session to renew: sign in again' })
  async refresh(@Headers('cookie') cookie: string | undefined, @Res({ passthrough: true }) res: Response): Promise<SessionResponseDto> {
    return this.signIn(res, await this.auth.refresh(cookie));
  }

  @Get('me')
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiUnauthorizedResponse({ description: 'Not signed in' })
  me(@CurrentUser() user: UserEntity, @SessionExpiresAt() expiresAt: number): SessionResponseDto {
    return toSessionResponse(user, expiresAt);
  }

  private signIn(res: Response, session: Session): SessionResponseDto {
    res.cookie(SESSION_COOKIE, session.token, { ...this.cookieOptions(), maxAge: Math.max(0, session.expiresAt - Date.now()) });
    return toSessionResponse(session.user, session.expiresAt);
  }

  private cookieOptions() {
    return { httpOnly: true, sameSite: 'lax' as const, path: '/', secure: this.config.cookieSecure };
  }
}
