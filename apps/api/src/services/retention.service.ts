import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { StreamEventRepository } from '../repositories/stream-event.repository.js';

const EVERY_MS = 60 * 60 * 1000;

/** Prunes the SSE logs by age and count, and expired sessions: at start-up, then hourly. */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Retention');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: StreamEventRepository,
    private readonly sessions: SessionRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.prune();
    this.timer = setInterval(() => void this.prune(), EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns how many entries were deleted. */
  async prune(): Promise<number> {
    try {
      const deleted = await this.log.prune(this.config.eventRetentionDays * 24 * 3600 * 1000, this.config.eventRetentionCount);
      if (deleted) this.logger.log(`pruned ${deleted} event log entries`);
      const sessions = await this.sessions.pruneExpired();
      if (sessions) this.logger.log(`pruned ${sessions} expired sessions`);
      return deleted;
    } catch (err) {
      this.logger.error('pruning failed', err instanceof Error ? err.stack : String(err));
      return 0;
    }
  }
}
