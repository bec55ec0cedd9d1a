import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rt-config-'));

describe('loadConfig', () => {
  it('picks the database engine from DATABASE_URL and refuses other URLs without echoing passwords', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).databaseProvider).toBe('sqlite');
    expect(loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'postgres://u@h/db' }).databaseProvider).toBe('postgres');
    expect(loadConfig({ DATA_DIR: tmp() }, { databaseUrl: 'postgresql://u@h/db' }).databaseProvider).toBe('postgres');
    let problems = '';
    try {
      loadConfig({ DATA_DIR: tmp(), DATABASE_URL: 'mysql://root:hunter2@h/db', REDIS_URL: 'http://u:pw@x', INSTANCE_ID: 'a b' });
    } catch (err) {
      problems = (err as ConfigError).problems.join('\n');
    }
    expect(problems).toMatch(/DATABASE_URL must be/);
    expect(problems).toMatch(/REDIS_URL must be redis:\/\//);
    expect(problems).toMatch(/INSTANCE_ID must be/);
    expect(problems).not.toMatch(/hunter2|pw@/);
  });

  it('has working defaults and generates a development secret once, kept in the data folder', () => {
    const dir = tmp();
    const config = loadConfig({ DATA_DIR: dir });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe(`file:${join(dir, 'app.db')}`);
    expect(config.sseHeartbeatMs).toBe(15_000);
    expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(config.jwtSecret);
    expect(loadConfig({ DATA_DIR: dir }).jwtSecret).toBe(config.jwtSecret);
    expect(config.cookieSecure).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every knob from the environment', () => {
    const config = loadConfig({
      DATA_DIR: tmp(),
      PORT: '8080',
      HOST: '0.0.0.0',
      JWT_SECRET: 's'.repeat(40),
      SESSION_TTL_SECONDS: '3600',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443',
      SSE_RETRY_MS: '1000',
      SSE_HEARTBEAT_MS: '5000',
      WS_MAX_FRAME_BYTES: '2048',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
      SQLITE_SYNCHRONOUS: 'FULL',
      WS_PING_INTERVAL_MS: '1000',
      WS_MAX_BUFFERED_BYTES: '4096',
      WS_PERMESSAGE_DEFLATE: 'true',
      CHAT_RATE_BURST: '3',
      CHAT_RATE_PER_SECOND: '2',
      CHAT_MAX_TEXT_CHARS: '20000',
      BLOG_MAX_UPDATE_CHARS: '500',
      DATABASE_URL: 'postgresql://app:secret@db:5432/realtime',
      DATABASE_POOL_SIZE: '20',
      REDIS_URL: 'redis://cache:6379',
      REDIS_KEY_PREFIX: 'prod:',
      INSTANCE_ID: 'web-1',
      INSTANCE_TTL_SECONDS: '30',
      SHUTDOWN_GRACE_MS: '2000',
      PUBLIC_ORIGIN: 'https://chat.example',
      AUTH_WINDOW_SECONDS: '60',
      LOGIN_LIMIT_PER_ACCOUNT: '3',
      LOGIN_LIMIT_PER_IP: '7',
      REGISTER_LIMIT_PER_IP: '4',
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '5',
      PASSWORD_MIN_LENGTH: '12',
      WRITE_RATE_BURST: '6',
      WRITE_RATE_PER_SECOND: '3',
      CREATE_RATE_BURST: '2',
      CREATE_RATE_PER_MINUTE: '1',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://app:secret@db:5432/realtime',
      databaseProvider: 'postgres',
      databasePoolSize: 20,
      redisUrl: 'redis://cache:6379',
      redisKeyPrefix: 'prod:',
      instanceId: 'web-1',
      instanceTtlSeconds: 30,
      shutdownGraceMs: 2000,
      jwtSecret: 's'.repeat(40),
      sessionTtlSeconds: 3600,
      allowedOrigins: ['https://a.example', 'https://b.example:8443'],
      sseRetryMs: 1000,
      sseHeartbeatMs: 5000,
      wsMaxFrameBytes: 2048,
      logLevel: 'debug',
      cookieSecure: true,
      sqliteSynchronous: 'FULL',
      wsPingIntervalMs: 1000,
      wsMaxBufferedBytes: 4096,
      wsPerMessageDeflate: true,
      chatRateBurst: 3,
      chatRatePerSecond: 2,
      chatMaxTextChars: 20000,
      blogMaxUpdateChars: 500,
      publicOrigin: 'https://chat.example',
      authWindowSeconds: 60,
      loginLimitPerAccount: 3,
      loginLimitPerIp: 7,
      registerLimitPerIp: 4,
      passwordHashConcurrency: 1,
      passwordHashQueue: 5,
      passwordMinLength: 12,
      writeRateBurst: 6,
      writeRatePerSecond: 3,
      createRateBurst: 2,
      createRatePerMinute: 1,
    });
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', JWT_SECRET: 'short', ALLOWED_ORIGINS: 'https://ok.example/path,nonsense', NODE_ENV: 'staging', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/PORT must be an integer/);
    expect(problems.join('\n')).toMatch(/JWT_SECRET must be at least 32/);
    expect(problems.join('\n')).toMatch(/bare origin/);
    expect(problems.join('\n')).toMatch(/"nonsense" is not a URL origin/);
    expect(problems.join('\n')).toMatch(/NODE_ENV must be one of/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must be file:path\/to\/app.db \(SQLite\) or postgresql/);
  });

  it('requires JWT_SECRET and PUBLIC_ORIGIN in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp() })).toThrow(/JWT_SECRET is required/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), JWT_SECRET: 's'.repeat(40) })).toThrow(/PUBLIC_ORIGIN is required/);
  });

  it('takes origins with their scheme, and nothing else', () => {
    for (const bad of ['chat.example', 'ftp://chat.example', 'https://chat.example/app', 'https://chat.example:443/']) {
      expect(() => loadConfig({ DATA_DIR: tmp(), PUBLIC_ORIGIN: bad }), bad).toThrow(/PUBLIC_ORIGIN/);
    }
    expect(loadConfig({ DATA_DIR: tmp() }).publicOrigin).toBe('');
  });
});
