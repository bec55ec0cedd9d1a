import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';

/**
 * The instance's stop sequence on SIGTERM or SIGINT, in one place because Nest runs the
 * providers' own shutdown hooks in parallel:
 * 1. readiness fails (`draining`), so a load balancer that polls it stops sending traffic;
 * 2. the listening socket closes: new connections are refused (a proxy tries another instance);
 * 3. every WebSocket is told 1012 (reconnect elsewhere) and every SSE stream is ended (the
 *    browser reconnects with Last-Event-ID), so clients move before we go;
 * 4. writes already running finish (transactions, then their publishes), up to
 *    SHUTDOWN_GRACE_MS; requests still open after that are cut.
 * Then Nest closes the HTTP server, and the database and Redis disconnect.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Lifecycle');
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly websockets: WebSocketRepository,
    private readonly sse: SseRepository,
    private readonly db: DatabaseRepository,
    private readonly bus: EventBus,
  ) {}

  /** True from the moment the instance starts to stop. */
  get draining(): boolean {
    return this.stopping;
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.stopping = true;
    const started = performance.now();
    const grace = this.config.shutdownGraceMs;
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (server?.listening) server.close();
    // Requests still open when the grace ends are cut, so the process always exits.
    const cut = setTimeout(() => server?.closeAllConnections(), grace);
    cut.unref();
    this.sse.drain();
    await this.websockets.drain(grace);
    await this.db.settled(Math.max(0, grace - (performance.now() - started)));
    await nextTurn(); // a transaction that just settled publishes on its next turn
    await this.bus.flush();
    this.logger.log(`stopped taking traffic${signal ? ` on ${signal}` : ''} in ${Math.round(performance.now() - started)} ms`);
  }
}
