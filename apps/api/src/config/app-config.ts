import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { BOARD_LIMITS, CHAT_MAX_TEXT_CHARS, SSE_DEFAULT_RETRY_MS, WS_MAX_FRAME_BYTES } from '@rt/protocol';

/**
 * Everything the server can be told, validated once at boot into a frozen, typed object.
 * Every field comes from one environment variable (listed in the README); nothing else reads
 * `process.env`.
 */
export interface AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  /** Interface to listen on. */
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Folder for the SQLite file and the generated development secret. */
  readonly dataDir: string;
  /** `file:...` (SQLite, the embedded default) or `postgresql://...`. */
  readonly databaseUrl: string;
  /** Which engine `databaseUrl` selects. */
  readonly databaseProvider: 'sqlite' | 'postgres';
  /** PostgreSQL connection pool size per instance. */
  readonly databasePoolSize: number;
  /** `redis://...` selects Redis pub/sub for fan-out and presence; empty keeps the in-process bus. */
  readonly redisUrl: string;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  readonly redisKeyPrefix: string;
  /** This process's name among instances (connection ids, presence entries, health). */
  readonly instanceId: string;
  /**
   * With Redis: an instance that has not refreshed its entries for this long is taken for dead;
   * its users leave their rooms and the other instances resync their readers from the log.
   */
  readonly instanceTtlSeconds: number;
  /** On SIGTERM, how long in-flight requests and writes get before connections are cut. */
  readonly shutdownGraceMs: number;
  /** SQLite `PRAGMA synchronous`: NORMAL (default) or FULL. */
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
  /** SQLite WAL checkpoints from a worker thread every this many ms; 0: SQLite's automatic ones on the event loop (SQLITE_CHECKPOINT_MS). */
  readonly sqliteCheckpointMs: number;
  /** Most appends one group commit takes into its transaction (WRITE_BATCH_MAX). */
  readonly writeBatchMax: number;
  readonly jwtSecret: string;
  /** Session lifetime in seconds. */
  readonly sessionTtlSeconds: number;
  /** `Secure` flag on the session cookie. */
  readonly cookieSecure: boolean;
  /**
   * The origin browsers load the app from (scheme://host[:port]). Empty: the loopback origins of
   * the port the server listens on (http://localhost:PORT, http://127.0.0.1:PORT), for the quick start.
   */
  readonly publicOrigin: string;
  /** Extra origins (scheme://host[:port]) allowed besides {@link publicOrigin}. */
  readonly allowedOrigins: readonly string[];
  /** The window of the sign-in and sign-up limits, in seconds. */
  readonly authWindowSeconds: number;
  /** Sign-in attempts per account name per window, whatever the outcome. */
  readonly loginLimitPerAccount: number;
  /** Sign-in attempts per client IP per window. */
  readonly loginLimitPerIp: number;
  /** Sign-ups per client IP per window. */
  readonly registerLimitPerIp: number;
  /** Password hashes computed at once (each holds a libuv thread and 32 MiB). */
  readonly passwordHashConcurrency: number;
  /** Password hashes waiting their turn; beyond it sign-in and sign-up answer 503 with Retry-After. */
  readonly passwordHashQueue: number;
  /** Shortest password accepted at sign-up. */
  readonly passwordMinLength: number;
  /** Edits, deletes, blog updates and test notifications a user may make at once ... */
  readonly writeRateBurst: number;
  /** ... and then per second. */
  readonly writeRatePerSecond: number;
  /** Open WebSockets per user (across instances with Redis); the next upgrade gets 429. */
  readonly wsMaxPerUser: number;
  /** Open private event streams per user; the next gets 429. */
  readonly sseMaxPerUser: number;
  /** Open signed-out event streams per client IP; the next gets 429. */
  readonly sseMaxPerIp: number;
  /** Rooms and blogs a user may create at once ... */
  readonly createRateBurst: number;
  /** ... and then per minute. */
  readonly createRatePerMinute: number;
  /** Built web app to serve; empty disables static serving. */
  readonly webDistDir: string;
  readonly sseRetryMs: number;
  readonly sseHeartbeatMs: number;
  /** A stream with more than this many bytes waiting to be written is ended (the client resumes). */
  readonly sseMaxBufferedBytes: number;
  /** SSE log entries older than this are pruned. */
  readonly eventRetentionDays: number;
  /** Each SSE log keeps at most this many newest entries. */
  readonly eventRetentionCount: number;
  readonly wsMaxFrameBytes: number;
  /** Protocol-level ping interval; a peer that has not answered the previous ping is terminated. */
  readonly wsPingIntervalMs: number;
  /** A socket with more than this many bytes waiting to be sent is closed (4008). */
  readonly wsMaxBufferedBytes: number;
  /** Negotiate permessage-deflate. Off by default: it costs CPU and memory per socket. */
  readonly wsPerMessageDeflate: boolean;
  /** Chat messages a user may send at once before the rate applies. */
  readonly chatRateBurst: number;
  /** Chat messages per second a user may send, sustained. */
  readonly chatRatePerSecond: number;
  /** The longest chat message text, in characters. */
  readonly chatMaxTextChars: number;
  /** Board segments, undos and clears a user may send at once before the rate applies. */
  readonly boardRateBurst: number;
  /** Board segments, undos and clears per second a user may send, sustained. */
  readonly boardRatePerSecond: number;
  /** Cursor updates per second a user may send on a board; more are dropped. */
  readonly boardCursorsPerSecond: number;
  /** Points a board holds since its last clear; past it, strokes are refused (`board_full`). */
  readonly boardMaxPoints: number;
  /** Entries a board's log keeps for resuming; each time it grows by as many again, the older ones are compacted into a snapshot. */
  readonly boardLogKeep: number;
  /** The longest live-blog update body, in characters. */
  readonly blogMaxUpdateChars: number;
  readonly logLevel: 'error' | 'warn' | 'log' | 'debug';
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Repository root, whether we run from `src` (tests) or `dist` (production build). */
export const repoRoot = resolve(import.meta.dirname, '..', '..', '..', '..');

type Env = Record<string, string | undefined>;

/**
 * Parses and validates the environment. Throws a {@link ConfigError} listing every problem at once.
 * `overrides` lets tests run several servers with different settings in one process.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<AppConfig> = {}): AppConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };

  const nodeEnv = oneOf('NODE_ENV', 'development', ['development', 'production', 'test'] as const);
  const dataDir = absolute(env.DATA_DIR || 'data');
  const databaseUrl = env.DATABASE_URL || `file:${resolve(dataDir, 'app.db')}`;
  const databaseProvider = providerOf(databaseUrl);
  if (!databaseProvider) {
    problems.push(`DATABASE_URL must be file:path/to/app.db (SQLite) or postgresql://user@host:port/db, got "${redact(databaseUrl)}"`);
  }
  const redisUrl = env.REDIS_URL ?? '';
  if (redisUrl && !/^rediss?:\/\/[^/]/.test(redisUrl)) {
    problems.push(`REDIS_URL must be redis://host:port (or rediss://), got "${redact(redisUrl)}"`);
  }
  const redisKeyPrefix = env.REDIS_KEY_PREFIX ?? 'rt:';
  if (!/^[A-Za-z0-9:_.-]{0,64}$/.test(redisKeyPrefix)) {
    problems.push(`REDIS_KEY_PREFIX must be up to 64 letters, digits or :_.-, got "${redisKeyPrefix}"`);
  }
  const instanceId = env.INSTANCE_ID || randomBytes(4).toString('hex');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(instanceId)) {
    problems.push(`INSTANCE_ID must be 1 to 64 letters, digits or _.-, got "${instanceId}"`);
  }

  const origin = (name: string, value: string): void => {
    try {
      const url = new URL(value);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${name} entry "${value}" must be an http: or https: origin`);
      else if (url.origin !== value) problems.push(`${name} entry "${value}" must be a bare origin such as ${url.origin}`);
    } catch {
      problems.push(`${name} entry "${value}" is not a URL origin`);
    }
  };
  const publicOrigin = (env.PUBLIC_ORIGIN ?? '').trim();
  if (publicOrigin) origin('PUBLIC_ORIGIN', publicOrigin);
  else if (nodeEnv === 'production' && overrides.publicOrigin === undefined) {
    problems.push('PUBLIC_ORIGIN is required when NODE_ENV=production (the origin browsers load the app from, such as https://chat.example.com)');
  }
  const allowedOrigins = (env.ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const entry of allowedOrigins) origin('ALLOWED_ORIGINS', entry);

  const jwtSecret = env.JWT_SECRET ?? '';
  if (jwtSecret && jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  if (!jwtSecret && nodeEnv === 'production' && !overrides.jwtSecret) {
    problems.push('JWT_SECRET is required when NODE_ENV=production');
  }

  const config: Mutable<AppConfig> = {
    nodeEnv,
    host: env.HOST || '127.0.0.1',
    port: int('PORT', 3000, 0, 65535),
    dataDir,
    databaseUrl,
    databaseProvider: databaseProvider ?? 'sqlite',
    databasePoolSize: int('DATABASE_POOL_SIZE', 10, 1, 1000),
    redisUrl,
    redisKeyPrefix,
    instanceId,
    instanceTtlSeconds: int('INSTANCE_TTL_SECONDS', 15, 3, 3600),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    sqliteSynchronous: oneOf('SQLITE_SYNCHRONOUS', 'NORMAL', ['NORMAL', 'FULL'] as const),
    sqliteCheckpointMs: int('SQLITE_CHECKPOINT_MS', 250, 0, 60_000),
    writeBatchMax: int('WRITE_BATCH_MAX', 512, 1, 10_000),
    jwtSecret,
    sessionTtlSeconds: int('SESSION_TTL_SECONDS', 7 * 24 * 3600, 60, 365 * 24 * 3600),
    cookieSecure: nodeEnv === 'production',
    publicOrigin,
    allowedOrigins,
    authWindowSeconds: int('AUTH_WINDOW_SECONDS', 900, 1, 86_400),
    loginLimitPerAccount: int('LOGIN_LIMIT_PER_ACCOUNT', 10, 1, 1_000_000),
    loginLimitPerIp: int('LOGIN_LIMIT_PER_IP', 50, 1, 1_000_000),
    registerLimitPerIp: int('REGISTER_LIMIT_PER_IP', 10, 1, 1_000_000),
    passwordHashConcurrency: int('PASSWORD_HASH_CONCURRENCY', 2, 1, 64),
    passwordHashQueue: int('PASSWORD_HASH_QUEUE', 64, 0, 100_000),
    passwordMinLength: int('PASSWORD_MIN_LENGTH', 10, 8, 128),
    writeRateBurst: int('WRITE_RATE_BURST', 30, 1, 1_000_000),
    writeRatePerSecond: int('WRITE_RATE_PER_SECOND', 2, 1, 1_000_000),
    wsMaxPerUser: int('WS_MAX_PER_USER', 20, 1, 1_000_000),
    sseMaxPerUser: int('SSE_MAX_PER_USER', 20, 1, 1_000_000),
    sseMaxPerIp: int('SSE_MAX_PER_IP', 20, 1, 1_000_000),
    createRateBurst: int('CREATE_RATE_BURST', 5, 1, 1_000_000),
    createRatePerMinute: int('CREATE_RATE_PER_MINUTE', 2, 1, 1_000_000),
    webDistDir: env.WEB_DIST_DIR ?? resolve(repoRoot, 'apps', 'web', 'dist'),
    sseRetryMs: int('SSE_RETRY_MS', SSE_DEFAULT_RETRY_MS, 100, 600_000),
    sseHeartbeatMs: int('SSE_HEARTBEAT_MS', 15_000, 100, 600_000),
    sseMaxBufferedBytes: int('SSE_MAX_BUFFERED_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    eventRetentionDays: int('EVENT_RETENTION_DAYS', 30, 1, 3650),
    eventRetentionCount: int('EVENT_RETENTION_COUNT', 1000, 1, 10_000_000),
    wsMaxFrameBytes: int('WS_MAX_FRAME_BYTES', WS_MAX_FRAME_BYTES, 1024, 16 * 1024 * 1024),
    wsPingIntervalMs: int('WS_PING_INTERVAL_MS', 25_000, 100, 600_000),
    wsMaxBufferedBytes: int('WS_MAX_BUFFERED_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    wsPerMessageDeflate: bool('WS_PERMESSAGE_DEFLATE', false),
    chatRateBurst: int('CHAT_RATE_BURST', 20, 1, 100_000),
    chatRatePerSecond: int('CHAT_RATE_PER_SECOND', 5, 1, 100_000),
    chatMaxTextChars: int('CHAT_MAX_TEXT_CHARS', CHAT_MAX_TEXT_CHARS, 1, 60_000),
    boardRateBurst: int('BOARD_RATE_BURST', BOARD_LIMITS.segmentBurst, 1, 100_000),
    boardRatePerSecond: int('BOARD_RATE_PER_SECOND', BOARD_LIMITS.segmentsPerSecond, 1, 100_000),
    boardCursorsPerSecond: int('BOARD_CURSORS_PER_SECOND', BOARD_LIMITS.cursorsPerSecond, 1, 1000),
    boardMaxPoints: int('BOARD_MAX_POINTS', BOARD_LIMITS.pointsPerBoard, 128, 10_000_000),
    boardLogKeep: int('BOARD_LOG_KEEP', 10_000, 10, 10_000_000),
    blogMaxUpdateChars: int('BLOG_MAX_UPDATE_CHARS', 10_000, 1, 60_000),
    logLevel: oneOf('LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'log', ['error', 'warn', 'log', 'debug'] as const),
    ...overrides,
  };
  if (overrides.databaseUrl !== undefined && overrides.databaseProvider === undefined) {
    const provider = providerOf(overrides.databaseUrl);
    if (!provider) problems.push(`databaseUrl must be a SQLite or PostgreSQL URL, got "${redact(overrides.databaseUrl)}"`);
    else config.databaseProvider = provider;
  }
  if (problems.length) throw new ConfigError(problems);
  if (!config.jwtSecret) {
    return Object.freeze({ ...config, jwtSecret: developmentSecret(config.dataDir) });
  }
  return Object.freeze(config);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The database engine a URL selects, or null when it selects none. */
export function providerOf(url: string): AppConfig['databaseProvider'] | null {
  if (/^file:./.test(url)) return 'sqlite';
  if (/^postgres(ql)?:\/\/./.test(url)) return 'postgres';
  return null;
}

/** A URL with its password replaced, for error messages and logs. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(process.cwd(), path);
}

/**
 * Outside production a missing JWT_SECRET is generated once and kept in the data folder, so
 * sessions survive restarts without anyone having to invent a secret.
 */
function developmentSecret(dataDir: string): string {
  const file = resolve(dataDir, 'jwt-secret');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return secret;
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
