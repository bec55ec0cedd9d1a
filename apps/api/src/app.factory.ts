import 'reflect-metadata';
import { ValidationPipe, type INestApplication, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { EventStreamResponder } from './controllers/event-stream.responder.js';
import { jsonShapeProblem } from './domain/json-guard.js';
import { RealtimeWsAdapter } from './gateways/ws.adapter.js';
import { HttpExceptionFilter } from './middleware/http-exception.filter.js';
import { OriginPolicy, UNSAFE_METHODS } from './middleware/origin-policy.js';
import { securityHeaders } from './middleware/security-headers.js';
import { migrate } from './boot/migrations.js';
import { ConnectionLimitRepository } from './repositories/connection-limit.repository.js';
import { TelemetryRepository } from './repositories/telemetry.repository.js';
import { WebSocketRepository } from './repositories/websocket.repository.js';
import { AuthService } from './services/auth.service.js';
import { ChatService } from './services/chat.service.js';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Puts the SSE endpoints ahead of Express on the HTTP server: a stream keeps only Node's own
 * request and response for its lifetime, not Express's and Nest's (see EventStreamResponder).
 * Every other request goes to Express as before.
 */
function serveStreamsBelowExpress(app: INestApplication): void {
  const server = app.getHttpServer() as Server;
  const express = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (express.length === 0) throw new Error('the HTTP server has no request listener to put the event streams ahead of');
  const streams = app.get(EventStreamResponder);
  server.removeAllListeners('request');
  // A stream's answer (its head or a JSON error) carries the same security headers as every
  // Express response, from STREAM_SECURITY_HEADERS (see EventStreamResponder).
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (streams.serve(req, res)) return;
    for (const listener of express) listener.call(server, req, res);
  });
}

/** Rooms that exist on every installation. */
export const DEFAULT_ROOMS = ['general'];

/**
 * Builds the whole server (not yet listening): migrates the database, seeds the default rooms,
 * and wires HTTP, WebSocket and SSE onto one Nest application. Used by `main.ts` and the tests.
 */
export async function createApp(config: AppConfig): Promise<INestApplication<Server>> {
  await migrate(config.databaseProvider, config.databaseUrl);

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.logLevel) + 1),
    bodyParser: false,
  });
  app.disable('x-powered-by');
  serveStreamsBelowExpress(app);
  app.set('trust proxy', 'loopback');
  app.use(securityHeaders());
  app.useBodyParser('json', { limit: '64kb' });
  // Before validators and transformers walk the body recursively: no deep nesting, no
  // prototype-reaching keys (a 400 instead of a stack overflow or a silently ignored key).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const problem = req.body === undefined ? null : jsonShapeProblem(req.body);
    if (problem) {
      res.status(400).json({ statusCode: 400, error: 'Bad Request', message: problem });
      return;
    }
    next();
  });

  const origins = new OriginPolicy(config.publicOrigin, config.allowedOrigins, () => (app.getHttpServer().address() as AddressInfo | null)?.port);
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (UNSAFE_METHODS.has(req.method) && !origins.isAllowed(req.headers)) {
      res.status(403).json({ statusCode: 403, error: 'Forbidden', message: 'Cross-origin request refused' });
      return;
    }
    next();
  });

  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.useGlobalFilters(new HttpExceptionFilter());

  const auth = app.get(AuthService);
  const telemetry = app.get(TelemetryRepository);
  const websockets = app.get(WebSocketRepository);
  const connectionLimits = app.get(ConnectionLimitRepository);
  app.useWebSocketAdapter(
    new RealtimeWsAdapter(app, {
      authenticate: (cookie) => auth.authenticateSession(cookie),
      admit: (user) => connectionLimits.acquire(`ws:user:${user.id}`, config.wsMaxPerUser),
      send: (socket, frame) => websockets.send(socket, frame),
      origins,
      perMessageDeflate: config.wsPerMessageDeflate,
      onFrame: () => telemetry.received('ws'),
      maxFrameBytes: config.wsMaxFrameBytes,
      onPing: (socket, data) => websockets.answerPing(socket, data),
      onPong: (socket) => websockets.markAlive(socket),
    }),
  );

  const openapi = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Realtime reference API')
      .setDescription('REST endpoints. WebSocket frames and SSE events are described in docs/protocol.md.')
      .setVersion('0.1.0')
      .addCookieAuth('session')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, openapi, { jsonDocumentUrl: 'api/openapi.json' });

  // Exit with 0 after a graceful shutdown (and let exit handlers such as --cpu-prof run). Only
  // the stop signals: Nest's default list includes SIGUSR2 (Node's --heapsnapshot-signal) and
  // SIGHUP, which must not stop a server.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const chat = app.get(ChatService);
  for (const room of DEFAULT_ROOMS) await chat.ensureRoom(room);
  return app;
}
