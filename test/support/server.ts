import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { testDatabase } from './services.js';
import { createApp } from '../../apps/api/src/app.factory.js';
import { loadConfig, type AppConfig } from '../../apps/api/src/config/app-config.js';

export interface TestServer {
  app: INestApplication;
  config: AppConfig;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  wsUrl: string;
  port: number;
  /** Stops the server; keeps the data folder unless `keepData` is false. */
  close(): Promise<void>;
  /** Deletes the data folder (call after close). */
  cleanup(): void;
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

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
