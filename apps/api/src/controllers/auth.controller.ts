import { Body, Controller, Get, HttpCode, Post, Res, UseGuards, Inject } from '@nestjs/common';
import { ApiConflictResponse, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import type { UserEntity } from '../domain/entities.js';
import { CredentialsDto, SessionResponseDto, toSessionResponse } from '../dtos/auth.dto.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
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

  @Get('me')
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiUnauthorizedResponse({ description: 'Not signed in' })
  me(@CurrentUser() user: UserEntity): SessionResponseDto {
    return toSessionResponse(user);
  }

  private signIn(res: Response, session: Session): SessionResponseDto {
    res.cookie(SESSION_COOKIE, session.token, { ...this.cookieOptions(), maxAge: this.config.sessionTtlSeconds * 1000 });
    return toSessionResponse(session.user);
  }

  private cookieOptions() {
    return { httpOnly: true, sameSite: 'lax' as const, path: '/', secure: this.config.cookieSecure };
  }
}
