import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { ServeStaticModule } from '@nestjs/serve-static';
import { TerminusModule } from '@nestjs/terminus';
import { getOptionsToken, getStorageToken, ThrottlerStorageService } from '@nestjs/throttler';
import { existsSync } from 'node:fs';
import type { AppConfig } from './config/app-config.js';
import { APP_CONFIG } from './config/tokens.js';
import { AuthController } from './controllers/auth.controller.js';
import { BlogController } from './controllers/blog.controller.js';
import { EventStreamResponder } from './controllers/event-stream.responder.js';
import { EventsController } from './controllers/events.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { MetricsController } from './controllers/metrics.controller.js';
import { NetsimController } from './controllers/netsim.controller.js';
import { ProbeController } from './controllers/probe.controller.js';
import { NotificationController } from './controllers/notification.controller.js';
import { RoomController } from './controllers/room.controller.js';
import { BoardGateway } from './gateways/board.gateway.js';
import { ChatGateway } from './gateways/chat.gateway.js';
import { AuthThrottleGuard, authThrottlerOptions } from './middleware/auth-throttle.guard.js';
import { AuthGuard } from './middleware/auth.guard.js';
import { BlogRepository } from './repositories/blog.repository.js';
import { BoardRepository } from './repositories/board.repository.js';
import { ConnectionLimitRepository, InProcessConnectionLimitRepository, RedisConnectionLimitRepository } from './repositories/connection-limit.repository.js';
import { CryptoRepository } from './repositories/crypto.repository.js';
import { DatabaseRepository } from './repositories/database.repository.js';
import { EventBus, InProcessEventBus, RedisEventBus } from './repositories/event-bus.repository.js';
import { NetsimRepository } from './repositories/netsim.repository.js';
import { NotificationRepository } from './repositories/notification.repository.js';
import { InProcessPresenceRepository, PresenceRepository, RedisPresenceRepository } from './repositories/presence.repository.js';
import { RateLimitRepository } from './repositories/rate-limit.repository.js';
import { RedisRepository } from './repositories/redis.repository.js';
import { RoomRepository } from './repositories/room.repository.js';
import { SessionRepository } from './repositories/session.repository.js';
import { SseRepository } from './repositories/sse.repository.js';
import { StreamEventRepository } from './repositories/stream-event.repository.js';
import { TelemetryRepository } from './repositories/telemetry.repository.js';
import { RedisThrottlerStorage } from './repositories/throttler-storage.repository.js';
import { UserRepository } from './repositories/user.repository.js';
import { WebSocketRepository } from './repositories/websocket.repository.js';
import { AuthService } from './services/auth.service.js';
import { BlogService } from './services/blog.service.js';
import { BoardService } from './services/board.service.js';
import { ChatService } from './services/chat.service.js';
import { EventStreamService } from './services/event-stream.service.js';
import { FanoutService } from './services/fanout.service.js';
import { LifecycleService } from './services/lifecycle.service.js';
import { NotificationService } from './services/notification.service.js';
import { ProbeService } from './services/probe.service.js';
import { RetentionService } from './services/retention.service.js';

/** The repositories; with REDIS_URL, fan-out and presence go through Redis. */
const repositories = (config: AppConfig): Provider[] => [
  BlogRepository,
  BoardRepository,
  { provide: ConnectionLimitRepository, useClass: config.redisUrl ? RedisConnectionLimitRepository : InProcessConnectionLimitRepository },
  CryptoRepository,
  DatabaseRepository,
  { provide: EventBus, useClass: config.redisUrl ? RedisEventBus : InProcessEventBus },
  NetsimRepository,
  NotificationRepository,
  { provide: PresenceRepository, useClass: config.redisUrl ? RedisPresenceRepository : InProcessPresenceRepository },
  RateLimitRepository,
  ...(config.redisUrl ? [RedisRepository] : []),
  RoomRepository,
  SessionRepository,
  SseRepository,
  StreamEventRepository,
  TelemetryRepository,
  UserRepository,
  WebSocketRepository,
  // @nestjs/throttler's options and storage (in Redis with REDIS_URL), for AuthThrottleGuard.
  { provide: getOptionsToken(), useValue: authThrottlerOptions(config) },
  config.redisUrl
    ? { provide: getStorageToken(), useFactory: (redis: RedisRepository) => new RedisThrottlerStorage(redis), inject: [RedisRepository] }
    : { provide: getStorageToken(), useClass: ThrottlerStorageService },
];

const services: Provider[] = [AuthService, BlogService, BoardService, ChatService, EventStreamService, FanoutService, LifecycleService, NotificationService, ProbeService, RetentionService];

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const serveWeb = config.webDistDir !== '' && existsSync(config.webDistDir);
    return {
      module: AppModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        ...(serveWeb ? [ServeStaticModule.forRoot({ rootPath: config.webDistDir, exclude: ['/api/{*path}', '/ws', '/metrics'] })] : []),
      ],
      controllers: [AuthController, BlogController, EventsController, HealthController, MetricsController, NetsimController, NotificationController, ProbeController, RoomController],
      providers: [{ provide: APP_CONFIG, useValue: config }, ...repositories(config), ...services, AuthGuard, AuthThrottleGuard, EventStreamResponder, ChatGateway, BoardGateway],
    };
  }
}
