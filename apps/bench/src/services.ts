/**
 * The machine's PostgreSQL and Redis, for the two-instance scenario: whether they answer, a fresh
 * database per deployment (dropped afterwards), a fresh Redis key prefix (its keys deleted
 * afterwards) and Redis's own CPU time. `pg` and `ioredis` are the app's dependencies.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

async function postgres<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function redis<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(REDIS_URL, { connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  let failure: Error | undefined;
  client.on('error', (err: Error) => (failure ??= err)); // the cause, where connect() says only "Connection is closed."
  try {
    await client.connect().catch((err: unknown) => {
      throw failure ?? err;
    });
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/**
 * Why the services cannot be used (`SELECT 1` and `PING`), or null when both answer. Under CI
 * (CI=true) a missing service throws, so the run fails loudly rather than skip the scenario.
 */
export async function servicesMissing(): Promise<string | null> {
  const problems: string[] = [];
  const probe = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what} (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  await probe(`PostgreSQL at ${POSTGRES_URL}`, () => postgres((c) => c.query('SELECT 1')));
  await probe(`Redis at ${REDIS_URL}`, () => redis((c) => c.ping()));
  if (problems.length === 0) return null;
  const message = `${problems.join(' and ')} not usable (set TEST_POSTGRES_URL / TEST_REDIS_URL, or start them)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${message}: required under CI`);
  return message;
}

/** A new, empty database on the machine's PostgreSQL; `drop` removes it (closing its connections). */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rt_bench_${randomBytes(6).toString('hex')}`;
  await postgres((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => postgres((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined) };
}

/** A Redis namespace of its own, so a run never hears another deployment; `clear` deletes its keys. */
export function freshRedisPrefix(): { prefix: string; clear(): Promise<void> } {
  const prefix = `rt-bench-${randomBytes(6).toString('hex')}:`;
  return {
    prefix,
    clear: () =>
      redis(async (c) => {
        let cursor = '0';
        do {
          const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length) await c.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }),
  };
}

/** Redis's user+system CPU time since it started (all its threads), microseconds, from INFO. */
export function redisCpuMicros(): Promise<number> {
  return redis(async (c) => {
    const info = await c.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
  });
}
