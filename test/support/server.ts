import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { testDatabase } from './services.js';
import { createApp } from '../../apps/api/src/app.factory.js';
import { loadConfig, type AppConfig } from '../../apps/api/src/config/app-config.js';

export interface TestServer {
  app: INestApplication<Server>;
  config: AppConfig;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  wsUrl: string;
  port: number;
  /** Stops the server; the data folder stays (see cleanup). */
  close: () => Promise<void>;
  /** Deletes the data folder (call after close). */
  cleanup: () => void;
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

/**
 * The abuse limits, raised out of the way for suites that test something else: every test
 * client comes from 127.0.0.1 and many sign up, sign in and create rooms in a few seconds.
 * The hostile-client suite (test/api/abuse.test.ts) passes the shipped defaults instead.
 */
export const RELAXED_LIMITS = {
  loginLimitPerAccount: 100_000,
  loginLimitPerIp: 100_000,
  registerLimitPerIp: 100_000,
  writeRateBurst: 100_000,
  writeRatePerSecond: 100_000,
  createRateBurst: 100_000,
  createRatePerMinute: 100_000,
  wsMaxPerUser: 100_000,
  sseMaxPerUser: 100_000,
  sseMaxPerIp: 100_000,
} satisfies Partial<AppConfig>;

/** The same, as environment variables, for servers started as processes. */
export const RELAXED_LIMITS_ENV: Record<string, string> = {
  LOGIN_LIMIT_PER_ACCOUNT: '100000',
  LOGIN_LIMIT_PER_IP: '100000',
  REGISTER_LIMIT_PER_IP: '100000',
  WRITE_RATE_BURST: '100000',
  WRITE_RATE_PER_SECOND: '100000',
  CREATE_RATE_BURST: '100000',
  CREATE_RATE_PER_MINUTE: '100000',
  WS_MAX_PER_USER: '100000',
  SSE_MAX_PER_USER: '100000',
  SSE_MAX_PER_IP: '100000',
};

/**
 * With TEST_POSTGRES_URL set (`postgresql://postgres@127.0.0.1:5432/test`), the API suite runs on
 * PostgreSQL instead: each data folder gets its own database, created on first use and dropped by
 * `cleanup()`, so a restart on the same folder finds the same data.
 */
const onPostgres = Boolean(process.env.TEST_POSTGRES_URL);

/**
 * Starts the real server on 127.0.0.1 and a free port (or `overrides.port`), on a fresh SQLite
 * file in a temporary folder (or `dataDir`, to restart on the same data); on PostgreSQL with
 * TEST_POSTGRES_URL.
 */
export async function startServer(overrides: Partial<AppConfig> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'rt-test-'));
  const postgres = onPostgres ? await testDatabase(`rt_${basename(dir).replace(/[^a-zA-Z0-9]/g, '_').toLowerCase()}`) : undefined;
  const config = loadConfig(
    { NODE_ENV: 'test' },
    {
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      databaseUrl: postgres?.url ?? `file:${join(dir, 'app.db')}`,
      jwtSecret: TEST_SECRET,
      webDistDir: '',
      ...RELAXED_LIMITS,
      ...overrides,
    },
  );
  const app = await createApp(config);
  // Port 0 (a free one) unless the caller asks for a port: a restart on the same data takes the old one.
  await app.listen(config.port, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    close: () => app.close(),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      void postgres?.drop().catch(() => undefined);
    },
  };
}

/**
 * One server for a `describe` block: started in its beforeAll, stopped and deleted in its
 * afterAll. Returns a stand-in that reads through to the server once the hook has run.
 */
export function serverForSuite(overrides: Partial<AppConfig> = {}): TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(overrides);
  });
  afterAll(async () => {
    await server?.close();
    server?.cleanup();
  });
  return new Proxy({} as TestServer, {
    get(_, key) {
      if (!server) throw new Error('the server is not started yet');
      return server[key as keyof TestServer];
    },
  });
}

/** Runs `fn` against two instances sharing one data folder (and whatever `overrides` share, such as Redis), then stops both. */
export async function withTwoInstances(overrides: Partial<AppConfig>, fn: (a: TestServer, b: TestServer) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-pair-'));
  const a = await startServer({ ...overrides, instanceId: 'a' }, dir);
  const b = await startServer({ ...overrides, instanceId: 'b' }, dir);
  try {
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
    a.cleanup();
  }
}
