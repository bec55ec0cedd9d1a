import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, sessionCookie, signUp } from '../support/clients.js';
import { startServer, TEST_SECRET, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

const me = (cookie?: string) => fetch(`${server.url}/api/auth/me`, { headers: cookie ? { cookie } : {} });

describe('register', () => {
  it('creates the user, answers 201 and sets an HttpOnly, SameSite=Lax session cookie', async () => {
    const res = await postJson(server.url, '/api/auth/register', { username: 'alice', password: PASSWORD });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { expiresAt: number };
    expect(body).toEqual({ user: { id: expect.any(Number), username: 'alice' }, expiresAt: expect.any(Number) });
    expect(body.expiresAt).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000); // the 7-day default
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('session='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/); // only with NODE_ENV=production
    const check = await me(sessionCookie(res));
    expect(check.status).toBe(200);
    expect(await check.json()).toEqual({ user: { id: expect.any(Number), username: 'alice' }, expiresAt: body.expiresAt });
  });

  it('refuses a taken username with 409', async () => {
    await signUp(server.url, 'taken');
    const res = await postJson(server.url, '/api/auth/register', { username: 'taken', password: PASSWORD });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'That username is taken' });
  });

  it.each([
    ['no body fields', {}],
    ['a short username', { username: 'ab', password: PASSWORD }],
    ['a character outside a-z, 0-9, _ and -', { username: 'alice.2', password: PASSWORD }],
    ['markup in the name', { username: '<script>', password: PASSWORD }],
    ['a number as username', { username: 12345, password: PASSWORD }],
    ['a short password', { username: 'shorty', password: 'short' }],
    ['an enormous password', { username: 'longpw', password: 'x'.repeat(129) }],
    ['an unknown field', { username: 'extra', password: PASSWORD, admin: true }],
    ['an array body', [1, 2]],
  ])('refuses %s with 400 and a readable message, storing nothing', async (_, body) => {
    const res = await postJson(server.url, '/api/auth/register', body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { statusCode: number; error: string; message: string | string[] };
    expect(json.statusCode).toBe(400);
    expect(json.error).toBe('Bad Request');
    expect(json.message.length).toBeGreaterThan(0);
    const username = (body as { username?: unknown }).username;
    if (typeof username === 'string') {
      const login = await postJson(server.url, '/api/auth/login', { username, password: PASSWORD });
      expect(login.status).not.toBe(200);
    }
  });

  it('answers malformed JSON with 400', async () => {
    const res = await fetch(`${server.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username": "x",' });
    expect(res.status).toBe(400);
    expect((await res.json()) as object).toMatchObject({ statusCode: 400 });
  });

  it('answers an oversized body with 413', async () => {
    const res = await postJson(server.url, '/api/auth/register', { username: 'big', password: 'x'.repeat(100_000) });
    expect(res.status).toBe(413);
    expect((await res.json()) as object).toMatchObject({ statusCode: 413 });
  });
});

describe('login', () => {
  beforeAll(async () => {
    await signUp(server.url, 'bob');
  });

  it('signs in with the right password (200 and a cookie)', async () => {
    const res = await postJson(server.url, '/api/auth/login', { username: 'bob', password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: { id: expect.any(Number), username: 'bob' }, expiresAt: expect.any(Number) });
    expect((await me(sessionCookie(res))).status).toBe(200);
  });

  it('takes a username in any case, and with stray spaces, as the same name ("BOB" is bob)', async () => {
    for (const username of ['BOB', 'Bob', ' bob ']) {
      const res = await postJson(server.url, '/api/auth/login', { username, password: PASSWORD });
      expect(res.status, username).toBe(200);
      expect(((await res.json()) as { user: { username: string } }).user.username).toBe('bob');
    }
    // Registering "BOB" is registering "bob": taken.
    const again = await postJson(server.url, '/api/auth/register', { username: 'BOB', password: PASSWORD });
    expect(again.status).toBe(409);
    // A new mixed-case name is stored in lower case.
    const carol = await postJson(server.url, '/api/auth/register', { username: 'Carol_X', password: PASSWORD });
    expect(carol.status).toBe(201);
    expect(((await carol.json()) as { user: { username: string } }).user.username).toBe('carol_x');
    // Still refused: what is not a name in any case, and what is not a string.
    expect((await postJson(server.url, '/api/auth/login', { username: 'B O B', password: PASSWORD })).status).toBe(400);
    expect((await postJson(server.url, '/api/auth/login', { username: ['BOB'], password: PASSWORD })).status).toBe(400);
  });

  it.each([
    ['a wrong password', { username: 'bob', password: 'wrong-password' }],
    ['an unknown user', { username: 'nobody', password: PASSWORD }],
  ])('refuses %s with 401 and a clear JSON error, and no cookie', async (_, body) => {
    const res = await postJson(server.url, '/api/auth/login', body);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password' });
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('authenticate (GET /api/auth/me)', () => {
  let user: { id: number; cookie: string };
  beforeAll(async () => {
    const carol = await signUp(server.url, 'carol');
    user = { id: carol.user.id, cookie: carol.cookie };
  });

  const expectRefused = async (cookie?: string) => {
    const res = await me(cookie);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Sign in required' });
  };

  it('refuses a request without a cookie', () => expectRefused());
  it('refuses garbage', () => expectRefused('session=not.a.token'));
  it('refuses a token signed with another secret', () =>
    expectRefused(`session=${jwt.sign({}, 'another-secret-that-is-also-long-enough!!', { subject: String(user.id), expiresIn: 60 })}`));
  it('refuses an expired token', () =>
    expectRefused(`session=${jwt.sign({ exp: Math.floor(Date.now() / 1000) - 10 }, TEST_SECRET, { subject: String(user.id) })}`));
  it('refuses alg:none', () => {
    const unsigned = jwt.sign({ exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none', subject: String(user.id) });
    return expectRefused(`session=${unsigned}`);
  });
  it('refuses HS512 even with the right secret', () =>
    expectRefused(`session=${jwt.sign({}, TEST_SECRET, { algorithm: 'HS512', subject: String(user.id), expiresIn: 60 })}`));
  it('refuses a token without expiry', () => expectRefused(`session=${jwt.sign({}, TEST_SECRET, { subject: String(user.id) })}`));
  it('refuses a valid token for a user who does not exist', () =>
    expectRefused(`session=${jwt.sign({}, TEST_SECRET, { subject: '999999', expiresIn: 60 })}`));
  it('refuses a hostile subject', () => expectRefused(`session=${jwt.sign({}, TEST_SECRET, { subject: '1 OR 1=1', expiresIn: 60 })}`));
  it('refuses a well-signed token that names no session (revocable sessions: the key alone is not enough)', () =>
    expectRefused(`session=${jwt.sign({ sid: 'made-up' }, TEST_SECRET, { subject: String(user.id), expiresIn: 60, jwtid: 'made-up' })}`));
  it('accepts the token of a live session', async () => {
    const res = await me(user.cookie);
    expect(res.status).toBe(200);
  });
});

describe('refresh (sliding renewal)', () => {
  it('renews a valid session with a later expiry', async () => {
    const { cookie } = await signUp(server.url, 'renewer');
    const first = (await (await me(cookie)).json()) as { expiresAt: number };
    await new Promise((r) => setTimeout(r, 1100)); // token times have one-second resolution
    const res = await postJson(server.url, '/api/auth/refresh', undefined, { cookie });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: { username: string }; expiresAt: number };
    expect(body.user.username).toBe('renewer');
    expect(body.expiresAt).toBeGreaterThan(first.expiresAt);
    const renewed = sessionCookie(res);
    expect(renewed).not.toBe(cookie);
    expect(await (await me(renewed)).json()).toMatchObject({ expiresAt: body.expiresAt });
  });

  it.each([
    ['no cookie', undefined],
    ['an expired token', () => `session=${jwt.sign({ exp: Math.floor(Date.now() / 1000) - 1 }, TEST_SECRET, { subject: '1' })}`],
    ['a forged token', () => `session=${jwt.sign({}, 'x'.repeat(40), { subject: '1', expiresIn: 60 })}`],
  ])('refuses %s with 401 and sets no cookie', async (_, cookie) => {
    const res = await postJson(server.url, '/api/auth/refresh', undefined, cookie ? { cookie: cookie() } : {});
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('logout', () => {
  it('answers 204 and clears the cookie', async () => {
    const { cookie } = await signUp(server.url, 'dave');
    const res = await postJson(server.url, '/api/auth/logout', undefined, { cookie });
    expect(res.status).toBe(204);
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('session='))!;
    expect(cleared).toMatch(/^session=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
  });
});

describe('cross-origin protection', () => {
  it('refuses a state-changing request from a foreign Origin with 403', async () => {
    const res = await postJson(server.url, '/api/auth/register', { username: 'mallory', password: PASSWORD }, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Cross-origin request refused' });
    const login = await postJson(server.url, '/api/auth/login', { username: 'mallory', password: PASSWORD });
    expect(login.status).toBe(401); // nothing was stored
  });

  it('refuses a cross-site browser request that carries no Origin', async () => {
    const res = await postJson(server.url, '/api/auth/logout', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(403);
  });

  it('refuses the opaque "null" origin', async () => {
    const res = await postJson(server.url, '/api/auth/logout', undefined, { origin: 'null' });
    expect(res.status).toBe(403);
  });

  it("accepts the app's own origin", async () => {
    const res = await postJson(server.url, '/api/auth/register', { username: 'sameorigin', password: PASSWORD }, { origin: server.url });
    expect(res.status).toBe(201);
  });

  it('accepts an origin from ALLOWED_ORIGINS', async () => {
    const other = await startServer({ allowedOrigins: ['https://app.example.com'] });
    try {
      const res = await postJson(other.url, '/api/auth/register', { username: 'listed', password: PASSWORD }, { origin: 'https://app.example.com' });
      expect(res.status).toBe(201);
    } finally {
      await other.close();
      other.cleanup();
    }
  });
});

describe('OpenAPI', () => {
  it('serves a document generated from the code, covering every REST endpoint', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/auth/login',
      '/api/auth/logout',
      '/api/auth/me',
      '/api/auth/refresh',
      '/api/auth/register',
      '/api/blogs',
      '/api/blogs/{id}',
      '/api/blogs/{id}/end',
      '/api/blogs/{id}/follow',
      '/api/blogs/{id}/stream',
      '/api/blogs/{id}/updates',
      '/api/blogs/{id}/updates/{updateId}',
      '/api/events',
      '/api/events/poll',
      '/api/health/live',
      '/api/health/ready',
      '/api/metrics',
      '/api/metrics/connections/{id}',
      '/api/metrics/connections/{id}/ping',
      '/api/netsim/drop',
      '/api/netsim/impair',
      '/api/netsim/pause',
      '/api/notifications',
      '/api/notifications/read-all',
      '/api/notifications/stream',
      '/api/notifications/test',
      '/api/notifications/{id}/read',
      '/api/probe',
      '/api/rooms',
      '/api/rooms/{room}/messages',
      '/metrics',
    ]);
  });
});
