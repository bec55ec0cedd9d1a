import { ArgumentsHost, Catch, Controller, Get, HttpException, Inject, Optional, UseFilters, type ExceptionFilter } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Response } from 'express';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { LifecycleService } from '../services/lifecycle.service.js';
import { RedisRepository } from '../repositories/redis.repository.js';

/** How long a dependency gets to answer a readiness check. */
const CHECK_TIMEOUT_MS = 1000;

/** Terminus's 503 carries the per-check details: send them as they are. */
@Catch(HttpException)
class HealthResultFilter implements ExceptionFilter {
  catch(exception: HttpException, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<Response>().status(exception.getStatus()).json(exception.getResponse());
  }
}

/**
 * Probes for orchestrators and load balancers (no session needed, nothing private in them):
 * - `GET /api/health/live`: the process is up and its event loop answers. Restart it if not.
 * - `GET /api/health/ready`: it can serve: the database answers, Redis answers (when configured),
 *   and it is not shutting down. Route traffic elsewhere while it says 503.
 */
@ApiTags('health')
@Controller('api/health')
@UseFilters(HealthResultFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly db: DatabaseRepository,
    private readonly lifecycle: LifecycleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly redis?: RedisRepository,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: 200 while the process runs' })
  live() {
    return this.health.check([() => this.indicators.check('process').up({ instance: this.config.instanceId, uptimeSeconds: Math.round(process.uptime()) })]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: 200 when the database (and Redis) answer and the instance is not stopping; 503 otherwise' })
  ready() {
    return this.health.check([
      () => this.probe('database', () => this.db.ping(CHECK_TIMEOUT_MS), { provider: this.config.databaseProvider }),
      ...(this.redis ? [() => this.probe('redis', () => this.redis!.ping(CHECK_TIMEOUT_MS))] : []),
      () => {
        const session = this.indicators.check('lifecycle');
        return this.lifecycle.draining ? session.down({ message: 'shutting down' }) : session.up({ instance: this.config.instanceId });
      },
    ]);
  }

  private async probe(key: string, check: () => Promise<void>, info: Record<string, unknown> = {}): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    try {
      await check();
      return session.up(info);
    } catch (err) {
      return session.down({ ...info, message: err instanceof Error ? err.message : String(err) });
    }
  }
}
