import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { redact } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { answerWithin } from '../domain/deadline.js';

/**
 * The two Redis connections of an instance (present only when REDIS_URL is set): `commands` for
 * PUBLISH and the presence sets, `subscriber` for SUBSCRIBE (a subscribed connection can run
 * nothing else). Both reconnect on their own, forever, backing off to 2 s.
 *
 * `commands` has no offline queue: while Redis is away a command fails at once instead of piling
 * up in memory, and callers fall back (the bus relies on the database log, presence on this
 * instance's own view). The subscriber keeps its queue so its SUBSCRIBE waits for the connection.
 */
@Injectable()
export class RedisRepository implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly commands: Redis;
  readonly subscriber: Redis;
  /** Logged once per outage, not once per retry. */
  private down = false;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const options = {
      connectTimeout: 5000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
      connectionName: `rt-${config.instanceId}`,
    };
    this.commands = new Redis(config.redisUrl, { ...options, enableOfflineQueue: false });
    this.subscriber = new Redis(config.redisUrl, { ...options, connectionName: `rt-${config.instanceId}-sub` });
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (err: Error) => {
        if (this.down) return;
        this.down = true;
        this.logger.warn(`${redact(config.redisUrl)} unreachable (${err.message}); retrying`);
      });
      client.on('ready', () => {
        if (!this.down) return;
        this.down = false;
        this.logger.log(`${redact(config.redisUrl)} reachable again`);
      });
    }
  }

  /** A key or channel name in this deployment's namespace (REDIS_KEY_PREFIX). */
  key(name: string): string {
    return this.config.redisKeyPrefix + name;
  }

  /** Throws unless both connections are up and Redis answers PING within `timeoutMs` (readiness). */
  async ping(timeoutMs: number): Promise<void> {
    if (this.subscriber.status !== 'ready') throw new Error(`subscriber connection is ${this.subscriber.status}`);
    await answerWithin(this.commands.ping(), timeoutMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
