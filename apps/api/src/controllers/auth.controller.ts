import { Body, Controller, Get, Headers, HttpCode, Post, Res, UseGuards, Inject } from '@nestjs/common';
import { ApiConflictResponse, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import type { UserEntity } from '../domain/entities.js';
import { CredentialsDto, SessionResponseDto, toSessionResponse } from '../dtos/auth.dto.js';
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
  @ApiCreatedResponse({ type: SessionResponseDto, description: 'Signed up and signed in; sets the session cookie' })
  @ApiConflictResponse({ description: 'Username taken' })
  async register(@Body() body: CredentialsDto, @Res({ passthrough: true }) res: Response): Promise<SessionResponseDto> {
    return this.signIn(res, await this.auth.register(body.username, body.password));
  }

  @Post('login')
  @HttpCode(200)
  @ApiOkResponse({ type: SessionResponseDto, description: 'Signed in; sets the session cookie' })
  @ApiUnauthorizedResponse({ description: 'Invalid username or password' })
  async login(@Body() body: CredentialsDto, @Res({ passthrough: true }) res: Response): Promise<SessionResponseDto> {
    return this.signIn(res, await this.auth.login(body.username, body.password));
  }

  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Signed out; clears the session cookie' })
  logout(@Res({ passthrough: true }) res: Response): void {
    res.clearCookie(SESSION_COOKIE, this.cookieOptions());
  }

  /** Sliding renewal: a still-valid session gets a fresh token (see docs/protocol.md). */
  @Post('refresh')
  @HttpCode(200)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: SessionResponseDto, description: 'A fresh session cookie with a new expiry' })
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
