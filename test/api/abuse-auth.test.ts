// Hostile clients against sign-in, sign-up and sessions (issue 16, defects 2, 4 and 8): login
// floods, password guessing, sign-up floods, weak passwords, and tokens that outlive a logout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type AppConfig } from '../../apps/api/src/config/app-config.js';
import { CryptoRepository } from '../../apps/api/src/repositories/crypto.repository.js';
import { SessionRepository } from '../../apps/api/src/repositories/session.repository.js';
import { eventually, PASSWORD, postJson, readStream, sessionCookie, signUp, SseClient, WsClient } from '../support/clients.js';
import { startInstance } from '../support/instances.js';
import { serverForSuite, startServer, withTwoInstances, type TestServer } from '../support/server.js';
import { REDIS_URL, redisPrefix, servicesAvailable } from '../support/services.js';

/** The limits as shipped (the harness relaxes them for the other suites). */
const SHIPPED = loadConfig({ NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'rt-defaults-')) });
const SHIPPED_LIMITS: Partial<AppConfig> = {
  loginLimitPerAccount: SHIPPED.loginLimitPerAccount,
  loginLimitPerIp: SHIPPED.loginLimitPerIp,
  registerLimitPerIp: SHIPPED.registerLimitPerIp,
  writeRateBurst: SHIPPED.writeRateBurst,
  writeRatePerSecond: SHIPPED.writeRatePerSecond,
  createRateBurst: SHIPPED.createRateBurst,
  createRatePerMinute: SHIPPED.createRatePerMinute,
};

/** Waits until the instance's Redis connections are up (readiness). */
const ready = (server: TestServer) => eventually(async () => ((await fetch(`${server.url}/api/health/ready`)).status === 200 ? true : undefined), 10_000, 'readiness');
const login = (server: TestServer, username: string, password: string) => postJson(server.url, '/api/auth/login', { username, password });
const me = (server: TestServer, cookie: string) => fetch(`${server.url}/api/auth/me`, { headers: { cookie } });

async function expectTooMany(res: Response, windowSeconds: number): Promise<void> {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(await res.json()).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many attempts; try again later' });
}

describe('sign-in throttling (defect 2)', () => {
  const server = serverForSuite(SHIPPED_LIMITS);
  beforeAll(() => signUp(server.url, 'victim'));

  it(`refuses an account's attempts past LOGIN_LIMIT_PER_ACCOUNT (${SHIPPED.loginLimitPerAccount}) with 429 and Retry-After, even with the right password`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < SHIPPED.loginLimitPerAccount; i++) statuses.push((await login(server, 'victim', `wrong-guess-${i}`)).status);
    expect(statuses).toEqual(Array(SHIPPED.loginLimitPerAccount).fill(401));
    await expectTooMany(await login(server, 'victim', PASSWORD), SHIPPED.authWindowSeconds);
    // The account name is the key, whatever its spelling.
    await expectTooMany(await login(server, ' VICTIM ', PASSWORD), SHIPPED.authWindowSeconds);
    // Another account from the same client is not locked.
    expect((await login(server, 'someone-else', 'wrong-guess')).status).toBe(401);
  });

  it('refuses a client IP past LOGIN_LIMIT_PER_IP, across account names', async () => {
    const strict = await startServer({ ...SHIPPED_LIMITS, loginLimitPerIp: 5 });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await login(strict, `nobody${i}`, 'wrong-guess')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401]);
      await expectTooMany(await login(strict, 'nobody-new', 'wrong-guess'), SHIPPED.authWindowSeconds);
    } finally {
      await strict.close();
      strict.cleanup();
    }
  });

  it('refuses sign-ups past REGISTER_LIMIT_PER_IP', async () => {
    const strict = await startServer({ ...SHIPPED_LIMITS, registerLimitPerIp: 3 });
    try {
      for (let i = 0; i < 3; i++) await signUp(strict.url, `flood${i}`);
      await expectTooMany(await postJson(strict.url, '/api/auth/register', { username: 'flood3', password: PASSWORD }), SHIPPED.authWindowSeconds);
      // Nothing was stored for the refused one.
      expect((await login(strict, 'flood3', PASSWORD)).status).toBe(401);
    } finally {
      await strict.close();
      strict.cleanup();
    }
  });
});

describe.runIf(await servicesAvailable())('sign-in throttling across instances (Redis storage)', () => {
  it('counts an account once over two instances', async () => {
    await withTwoInstances({ ...SHIPPED_LIMITS, loginLimitPerAccount: 4, redisUrl: REDIS_URL, redisKeyPrefix: redisPrefix() }, async (a, b) => {
      await ready(a);
      await ready(b);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await login(i % 2 ? a : b, 'spread', 'wrong-guess')).status);
      expect(statuses).toEqual([401, 401, 401, 401]);
      await expectTooMany(await login(a, 'spread', 'wrong-guess'), SHIPPED.authWindowSeconds);
      await expectTooMany(await login(b, 'spread', 'wrong-guess'), SHIPPED.authWindowSeconds);
    });
  });
});

describe('password hashing waits in line (defect 2)', () => {
  const server = serverForSuite();

  /** Latency of `GET path` while `load` runs, polled back to back: the worst one, ms. */
  async function worstLatencyDuring(url: string, load: Promise<unknown>): Promise<{ worst: number; samples: number }> {
    let done = false;
    void load.finally(() => (done = true));
    let worst = 0;
    let samples = 0;
    while (!done) {
      const t = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      worst = Math.max(worst, performance.now() - t);
      samples++;
    }
    return { worst, samples };
  }

  it('keeps the static app and /api/health/live answering while 80 sign-ins for unknown users hash (server in its own process)', async () => {
    const web = mkdtempSync(join(tmpdir(), 'rt-web-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>app</title>');
    const instance = await startInstance('hash-flood', { WEB_DIST_DIR: web, PASSWORD_HASH_QUEUE: '30' });
    try {
      const flood = Promise.all(Array.from({ length: 80 }, (_, i) => postJson(instance.url, '/api/auth/login', { username: `ghost${i}`, password: 'wrong-guess' }).then((r) => r.status)));
      const [staticPage, health] = await Promise.all([worstLatencyDuring(`${instance.url}/`, flood), worstLatencyDuring(`${instance.url}/api/health/live`, flood)]);
      // Those past PASSWORD_HASH_QUEUE (30 here) are told to come back; the others wait their turn.
      const statuses = await flood;
      expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(30);
      expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
      console.log(`[figures] 80 parallel unknown-user logins: worst GET / ${staticPage.worst.toFixed(0)} ms (${staticPage.samples} samples), worst GET /api/health/live ${health.worst.toFixed(0)} ms (${health.samples})`);
      expect(staticPage.samples).toBeGreaterThan(1);
      // Unbounded, the static page's file reads waited behind the whole flood on libuv's pool
      // (14 s on this 2-core machine). The bound is loose: the machine is shared and loaded.
      expect(staticPage.worst).toBeLessThan(3000);
      expect(health.worst).toBeLessThan(3000);
    } finally {
      await instance.stop();
      rmSync(web, { recursive: true, force: true });
    }
  }, 90_000);

  it('never runs more than PASSWORD_HASH_CONCURRENCY hashes at once', async () => {
    const crypto = server.app.get(CryptoRepository);
    let most = 0;
    const flood = Promise.all(Array.from({ length: 12 }, (_, i) => login(server, `ghost-q${i}`, 'wrong-guess')));
    const watch = setInterval(() => (most = Math.max(most, crypto.hashQueue.active)), 1);
    await flood;
    clearInterval(watch);
    expect(most).toBe(server.config.passwordHashConcurrency);
  });

  it('answers 503 with Retry-After once PASSWORD_HASH_QUEUE are waiting, and 401 for those in line', async () => {
    const small = await startServer({ passwordHashConcurrency: 1, passwordHashQueue: 4 });
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(small, `ghost${i}`, 'wrong-guess').then((r) => [r.status, r.headers.get('retry-after')] as const)));
      const busy = statuses.filter(([s]) => s === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(busy.every(([, retry]) => retry === '1')).toBe(true);
      expect(statuses.filter(([s]) => s === 401).length).toBeGreaterThanOrEqual(5); // the one hashing and the four in line
      expect(statuses.every(([s]) => s === 401 || s === 503)).toBe(true);
    } finally {
      await small.close();
      small.cleanup();
    }
  });

  it('answers an unknown user and a wrong password alike, in similar time', async () => {
    await signUp(server.url, 'known');
    const time = async (username: string) => {
      const t = performance.now();
      const res = await login(server, username, 'wrong-guess');
      return { ms: performance.now() - t, status: res.status, body: await res.text() };
    };
    const known = [];
    const unknown = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('known'));
      unknown.push(await time(`unknown${i}`));
    }
    expect(new Set([...known, ...unknown].map((r) => `${r.status} ${r.body}`))).toEqual(new Set(['401 {"statusCode":401,"error":"Unauthorized","message":"Invalid username or password"}']));
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknown.map((r) => r.ms)) / median(known.map((r) => r.ms));
    console.log(`[figures] login median: unknown user / wrong password = ${ratio.toFixed(2)}`);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('password policy (defect 8)', () => {
  const server = serverForSuite();

  it.each([
    ['12345678', 'password must be at least 10 characters'],
    ['password', 'password must be at least 10 characters'],
    ['password123', 'password is too common; choose one that is not on lists of leaked passwords'],
    ['Qwertyuiop', 'password is too common; choose one that is not on lists of leaked passwords'],
    ['weakling-1', 'password must not be the username'],
  ])('refuses %s with 400 and stores nothing', async (password, message) => {
    const res = await postJson(server.url, '/api/auth/register', { username: 'weakling-1', password });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message });
    expect((await login(server, 'weakling-1', password)).status).toBe(401);
  });

  it('accepts a long, uncommon password', async () => {
    expect((await postJson(server.url, '/api/auth/register', { username: 'strong', password: 'tangerine-orbit-42' })).status).toBe(201);
  });
});

describe('sessions that can be revoked (defect 4)', () => {
  const server = serverForSuite();

  it('logout: the old cookie gets 401 on /me and on the WebSocket upgrade; open sockets close with 4001, streams end with auth-expired', async () => {
    const { cookie } = await signUp(server.url, 'leaver');
    const other = await postJson(server.url, '/api/auth/login', { username: 'leaver', password: PASSWORD });
    const otherCookie = sessionCookie(other); // a second session (another browser)
    const socket = await WsClient.connect(server.wsUrl, cookie);
    const otherSocket = await WsClient.connect(server.wsUrl, otherCookie);
    const stream = new SseClient(`${server.url}/api/notifications/stream`, cookie, ['auth-expired']);
    await stream.waitForOpen();
    const events = await fetch(`${server.url}/api/events?topics=notifications`, { headers: { cookie } });
    expect(events.status).toBe(200);
    const eventsText = readStream(events, (text) => text.includes('event: auth-expired'));

    const out = await postJson(server.url, '/api/auth/logout', undefined, { cookie });
    expect(out.status).toBe(204);
    expect(await socket.waitClosed()).toBe(4001);
    await stream.waitForCount(1);
    expect(stream.events[0]!.type).toBe('auth-expired');
    expect(await eventsText).toMatch(/event: auth-expired\ndata: \{\}\n\n$/);
    stream.close();

    expect((await me(server, cookie)).status).toBe(401);
    await expect(WsClient.connect(server.wsUrl, cookie)).rejects.toMatchObject({ status: 401 });
    expect((await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie } })).status).toBe(401);
    expect((await postJson(server.url, '/api/auth/refresh', undefined, { cookie })).status).toBe(401);
    // The other session is untouched.
    expect((await me(server, otherCookie)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(otherSocket.closeCode).toBeUndefined();
    otherSocket.close();
  });

  it('refresh: the old token stops working at once, the new one works, and open sockets stay open', async () => {
    const { cookie } = await signUp(server.url, 'renewer');
    const socket = await WsClient.connect(server.wsUrl, cookie);
    const res = await postJson(server.url, '/api/auth/refresh', undefined, { cookie });
    expect(res.status).toBe(200);
    const renewed = sessionCookie(res);
    expect((await me(server, cookie)).status).toBe(401);
    expect((await postJson(server.url, '/api/auth/refresh', undefined, { cookie })).status).toBe(401);
    expect((await me(server, renewed)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(socket.closeCode).toBeUndefined();
    // Signing out with the renewed cookie ends the socket opened before the renewal: one session.
    await postJson(server.url, '/api/auth/logout', undefined, { cookie: renewed });
    expect(await socket.waitClosed()).toBe(4001);
  });

  it('the recheck after a bus outage finds which of many sessions still exist, in batches (1,200 ids, some revoked)', async () => {
    const { user } = await signUp(server.url, 'manysessions');
    const sessions = server.app.get(SessionRepository);
    const created = [];
    for (let i = 0; i < 1200; i++) created.push((await sessions.create(user.id, Date.now() + 3_600_000)).id);
    const revoked = created.filter((_, i) => i % 7 === 0);
    for (const id of revoked) await sessions.delete(id);
    const found = await sessions.existing([...created, 'never-was', created[1]!]);
    expect(found.size).toBe(created.length - revoked.length);
    for (const id of revoked) expect(found.has(id)).toBe(false);
    expect(found.has(created[1]!)).toBe(true);
    expect((await sessions.existing([])).size).toBe(0);
  });

  it('a logout with a revoked, forged or missing cookie is a harmless 204', async () => {
    const { cookie } = await signUp(server.url, 'twice');
    expect((await postJson(server.url, '/api/auth/logout', undefined, { cookie })).status).toBe(204);
    expect((await postJson(server.url, '/api/auth/logout', undefined, { cookie })).status).toBe(204);
    expect((await postJson(server.url, '/api/auth/logout', undefined, { cookie: 'session=not.a.token' })).status).toBe(204);
    expect((await postJson(server.url, '/api/auth/logout', undefined)).status).toBe(204);
  });
});

describe.runIf(await servicesAvailable())('revocation reaches every instance (over the bus)', () => {
  it('a logout on instance A closes the WebSocket and ends the stream on instance B', async () => {
    await withTwoInstances({ redisUrl: REDIS_URL, redisKeyPrefix: redisPrefix() }, async (a, b) => {
      await ready(a);
      await ready(b);
      const { cookie } = await signUp(a.url, 'roamer');
      const socket = await WsClient.connect(b.wsUrl, cookie);
      const stream = new SseClient(`${b.url}/api/notifications/stream`, cookie, ['auth-expired']);
      await stream.waitForOpen();
      expect((await postJson(a.url, '/api/auth/logout', undefined, { cookie })).status).toBe(204);
      expect(await socket.waitClosed()).toBe(4001);
      await stream.waitForCount(1);
      expect(stream.events[0]!.type).toBe('auth-expired');
      stream.close();
      expect((await me(b, cookie)).status).toBe(401);
    });
  });
});
