import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { ProbeResult } from '@rt/protocol';
import type { UserEntity } from '../domain/entities.js';
import { ProbeRequestDto } from '../dtos/probe.dto.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { SESSION_COOKIE } from '../services/auth.service.js';
import { ProbeService } from '../services/probe.service.js';

@ApiTags('metrics')
@ApiCookieAuth(SESSION_COOKIE)
@UseGuards(AuthGuard)
@Controller('api/probe')
export class ProbeController {
  constructor(private readonly probes: ProbeService) {}

  /** Runs a head-to-head probe on two of your connections and answers with the server's side of the results. */
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ description: 'See docs/protocol.md, "Head-to-head probe"' })
  run(@CurrentUser() user: UserEntity, @Body() body: ProbeRequestDto): Promise<ProbeResult> {
    return this.probes.run(user, body);
  }
}
