import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

/** The machine's PostgreSQL (trust auth) and Redis, as on every developer's and CI machine. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * True when PostgreSQL and Redis answer. Under CI=true a missing service throws, so the suite
 * fails loudly instead of skipping; elsewhere the suite is skipped with a warning.
 */
export async function servicesAvailable(): Promise<boolean> {
  const missing: string[] = [];
  if (!(await reachable(POSTGRES_ADMIN_URL))) missing.push(`PostgreSQL at ${POSTGRES_ADMIN_URL}`);
  if (!(await reachable(REDIS_URL))) missing.push(`Redis at ${REDIS_URL}`);
  if (missing.length === 0) return true;
  const message = `${missing.join(' and ')} not reachable (set TEST_POSTGRES_URL / TEST_REDIS_URL, or start them)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${message}: required under CI`);
  console.warn(`skipping the scale-out suite: ${message}`);
  return false;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database of its own on the machine's PostgreSQL: `name` (created if missing) or a fresh one. */
export async function testDatabase(name = `rt_${randomBytes(6).toString('hex')}`): Promise<{ url: string; drop(): Promise<void> }> {
  try {
    await admin(`CREATE DATABASE "${name}"`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // exists: a restart on the same data
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** A key prefix of its own on the machine's Redis, so concurrent suites never hear each other. */
export function redisPrefix(): string {
  return `rt-test-${randomBytes(6).toString('hex')}:`;
}
