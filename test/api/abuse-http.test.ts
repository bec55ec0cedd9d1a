// Hostile clients against the HTTP surface (issue 16, defects 5, 7 and 9): framing and sniffing,
// writes in bulk, and origins that only look like ours.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { serverForSuite, startServer, withTwoInstances, type TestServer } from '../support/server.js';
import { REDIS_URL, redisPrefix, servicesAvailable } from '../support/services.js';

describe('security headers (defect 5)', () => {
  let server: TestServer;
  let web: string;
  beforeAll(async () => {
    web = mkdtempSync(join(tmpdir(), 'rt-web-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>app</title>');
    server = await startServer({ webDistDir: web });
  });
  afterAll(async () => {
    await server.close();
    server.cleanup();
    rmSync(web, { recursive: true, force: true });
  });

  const csp = (res: Response) => Object.fromEntries((res.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]): [string, string] => [name ?? '', values.join(' ')]));

  it.each(['/', '/rooms/general', '/api/health/live', '/api/auth/me', '/api/openapi.json', '/api/nothing-here'])('%s: CSP without inline script, no framing, nosniff, no referrer, COOP', async (path) => {
    const res = await fetch(`${server.url}${path}`);
    await res.arrayBuffer();
    expect(csp(res)).toMatchObject({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'object-src': "'none'",
      'frame-ancestors': "'none'",
      'base-uri': "'self'",
      'form-action': "'self'",
    });
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('Swagger UI alone may use inline styles (its page ships <style> blocks); scripts stay same-origin', async () => {
    const res = await fetch(`${server.url}/api/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
    expect(csp(res)).toMatchObject({ 'script-src': "'self'", 'style-src': "'self' 'unsafe-inline'", 'frame-ancestors': "'none'" });
  });

  it('the WebSocket refusal carries no HTML to sniff: a plain status', async () => {
    await expect(WsClient.connect(server.wsUrl)).rejects.toMatchObject({ status: 401 });
  });
});

describe('rate limits on every write (defect 7), with the shipped defaults', () => {
  let server: TestServer;
  let alice: SignedIn;
  const write = (path: string, body: unknown, method = 'POST') =>
    fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', cookie: alice.cookie }, body: body === undefined ? undefined : JSON.stringify(body) });

  beforeAll(async () => {
    server = await startServer({ writeRateBurst: 30, writeRatePerSecond: 2, createRateBurst: 5, createRatePerMinute: 2 });
    alice = await signUp(server.url, 'alice');
  });
  afterAll(async () => {
    await server.close();
    server.cleanup();
  });

  /**
   * Sends `count` requests at once and checks the token bucket's verdict: `burst` pass, plus at
   * most what refilled at `perSecond` while they ran; every other one is a well-formed 429.
   */
  async function burstOf(count: number, send: () => Promise<Response>, burst: number, perSecond: number, what: RegExp): Promise<void> {
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: count }, send));
    const refilled = Math.ceil(((performance.now() - started) / 1000) * perSecond);
    const passed = answers.filter((r) => r.status < 300);
    expect(passed.length).toBeGreaterThanOrEqual(burst);
    expect(passed.length).toBeLessThanOrEqual(burst + refilled);
    const refused = answers.filter((r) => r.status >= 300);
    expect(refused.length).toBeGreaterThan(0);
    for (const res of refused) await expectLimited(res, what);
  }

  async function expectLimited(res: Response, what: RegExp): Promise<void> {
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { statusCode: number; error: string; message: string };
    expect(body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.stringMatching(what) });
  }

  it('rooms and blogs share CREATE_RATE_BURST (5), then 429 with Retry-After; the refused room is not created', async () => {
    for (let i = 0; i < 3; i++) expect((await write('/api/rooms', { name: `spam-${i}` })).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await write('/api/blogs', { title: `spam ${i}` })).status).toBe(201);
    await expectLimited(await write('/api/rooms', { name: 'spam-5' }), /^Too many new rooms and blogs; try again in \d+ ms$/);
    await expectLimited(await write('/api/blogs', { title: 'spam 6' }), /^Too many new rooms and blogs/);
    const rooms = (await (await fetch(`${server.url}/api/rooms`, { headers: { cookie: alice.cookie } })).json()) as { rooms: { name: string }[] };
    expect(rooms.rooms.map((r) => r.name)).not.toContain('spam-5');
    // Another user has their own allowance.
    const bob = await signUp(server.url, 'bob');
    expect((await postJson(server.url, '/api/rooms', { name: 'bobs-room' }, { cookie: bob.cookie })).status).toBe(201);
  });

  it('test notifications: WRITE_RATE_BURST (30), then 429', async () => {
    const carol = await signUp(server.url, 'carol');
    await burstOf(45, () => postJson(server.url, '/api/notifications/test', {}, { cookie: carol.cookie }), 30, 2, /^Too many test notifications; try again in \d+ ms$/);
  });

  it('blog updates, edits, deletes and the end: WRITE_RATE_BURST together, then 429', async () => {
    const dave = await signUp(server.url, 'dave');
    const as = (path: string, body: unknown, method = 'POST') =>
      fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', cookie: dave.cookie }, body: body === undefined ? undefined : JSON.stringify(body) });
    const blog = (await (await as('/api/blogs', { title: 'live' })).json()) as { id: number };
    const update = (await (await as(`/api/blogs/${blog.id}/updates`, { body: 'first' })).json()) as { id: number };
    let n = 0;
    const started = performance.now();
    await burstOf(44, () => as(`/api/blogs/${blog.id}/updates/${update.id}`, { body: `edit ${n++}` }, 'PATCH'), 29, 2, /^Too many blog writes/);
    // Posting, deleting and ending draw on the same bucket, which is empty now: three of each at
    // once, and at most what refilled since the burst began gets through.
    const kinds = {
      post: () => as(`/api/blogs/${blog.id}/updates`, { body: 'late' }),
      delete: () => as(`/api/blogs/${blog.id}/updates/${update.id}`, undefined, 'DELETE'),
      end: () => as(`/api/blogs/${blog.id}/end`, undefined),
    };
    const answers = await Promise.all(Object.entries(kinds).flatMap(([kind, send]) => [1, 2, 3].map(async () => ({ kind, res: await send() }))));
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 2);
    expect(answers.filter((a) => a.res.status < 300).length).toBeLessThanOrEqual(refilled);
    for (const kind of Object.keys(kinds)) {
      const refused = answers.filter((a) => a.kind === kind && a.res.status === 429);
      expect(refused.length, kind).toBeGreaterThan(0);
      for (const { res } of refused) await expectLimited(res, /^Too many blog writes/);
    }
  });

  it('chat edits over the WebSocket: WRITE_RATE_BURST, then an error frame rate_limited with retryAfterMs, and nothing broadcast', async () => {
    const erin = await signUp(server.url, 'erin');
    const client = await WsClient.connect(server.wsUrl, erin.cookie);
    const watcher = await WsClient.connect(server.wsUrl, alice.cookie);
    await client.join('general');
    await watcher.join('general');
    client.send('message', { room: 'general', text: 'original', clientId: 'edit-me' });
    const ack = await client.waitFor('ack', (d) => d.clientId === 'edit-me');
    const started = performance.now();
    for (let i = 0; i < 45; i++) client.send('edit', { room: 'general', seq: ack.seq, text: `edit ${i}` }, { ref: `e${i}` });
    // Each edit is answered by its broadcast or refused by an error (deletes take the same path).
    await eventually(() => (client.of('error').length + watcher.of('message-edited').length >= 45 ? true : undefined), 10_000, 'every edit answered');
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 2);
    const edited = watcher.of('message-edited').length;
    expect(edited).toBeGreaterThanOrEqual(30);
    expect(edited).toBeLessThanOrEqual(30 + refilled);
    const errors = client.of('error');
    expect(errors.length).toBe(45 - edited);
    for (const error of errors) {
      expect(error).toEqual({ code: 'rate_limited', message: expect.stringMatching(/^Too many edits and deletes; try again in \d+ ms$/), ref: expect.stringMatching(/^e\d+$/), retryAfterMs: expect.any(Number) });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(watcher.of('message-edited').length).toBe(edited); // nothing refused was broadcast later
    client.close();
    watcher.close();
  });
});

describe.runIf(await servicesAvailable())('write limits across instances (Redis)', () => {
  it('a user writing through two instances gets one WRITE_RATE_BURST, not one per instance, and so does CREATE_RATE_BURST', async () => {
    await withTwoInstances({ writeRateBurst: 4, writeRatePerSecond: 1, createRateBurst: 2, createRatePerMinute: 1, redisUrl: REDIS_URL, redisKeyPrefix: redisPrefix() }, async (a, b) => {
      const gina = await signUp(a.url, 'gina');
      const notify = (server: TestServer) => postJson(server.url, '/api/notifications/test', { title: 't' }, { cookie: gina.cookie });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await notify(i % 2 === 0 ? a : b)).status);
      const passed = statuses.filter((s) => s < 300).length;
      // Four, plus at most what refilled at one a second while the eight ran; eight if each instance counted alone.
      expect(passed).toBeGreaterThanOrEqual(4);
      expect(passed).toBeLessThanOrEqual(5);
      expect(statuses.filter((s) => s === 429).length).toBe(8 - passed);
      const rooms = [await postJson(a.url, '/api/rooms', { name: 'g1' }, { cookie: gina.cookie }), await postJson(b.url, '/api/rooms', { name: 'g2' }, { cookie: gina.cookie }), await postJson(a.url, '/api/rooms', { name: 'g3' }, { cookie: gina.cookie }), await postJson(b.url, '/api/rooms', { name: 'g4' }, { cookie: gina.cookie })];
      expect(rooms.map((r) => r.status)).toEqual([201, 201, 429, 429]);
    });
  });
});

describe('allowed origins come from configuration, scheme included (defect 9)', () => {
  const server = serverForSuite({ publicOrigin: 'https://chat.example', allowedOrigins: ['https://admin.example'] });

  const register = (username: string, headers: Record<string, string>) => postJson(server.url, '/api/auth/register', { username, password: 'tangerine-orbit-42' }, headers);

  it.each<[string, Record<string, string>, number]>([
    ['PUBLIC_ORIGIN', { origin: 'https://chat.example' }, 201],
    ['an ALLOWED_ORIGINS entry', { origin: 'https://admin.example' }, 201],
    ['the public host over http', { origin: 'http://chat.example' }, 403],
    ['the public host on another port', { origin: 'https://chat.example:8443' }, 403],
    ['the server address itself, once PUBLIC_ORIGIN is set', { origin: 'http://127.0.0.1' }, 403],
  ])('%s → %i', async (_, headers, status) => {
    const res = await register(`o${Math.random().toString(36).slice(2, 10)}`, headers);
    expect(res.status).toBe(status);
  });

  it('a foreign origin that set Host to itself → 403 (the Host header is not trusted)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ username: 'hostspoof', password: 'tangerine-orbit-42' });
      const req = request(`${server.url}/api/auth/register`, { method: 'POST', headers: { host: 'evil.example', origin: 'http://evil.example', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(403);
  });

  it('the WebSocket upgrade: 403 for a foreign origin with a matching Host, 101 for PUBLIC_ORIGIN', async () => {
    const { cookie } = await signUp(server.url, 'wsorigin');
    await expect(WsClient.connect(server.wsUrl, cookie, { origin: 'http://evil.example', host: 'evil.example' })).rejects.toMatchObject({ status: 403 });
    await expect(WsClient.connect(server.wsUrl, cookie, { origin: 'http://chat.example' })).rejects.toMatchObject({ status: 403 });
    const ok = await WsClient.connect(server.wsUrl, cookie, { origin: 'https://chat.example' });
    ok.close();
  });

  it('without PUBLIC_ORIGIN (the quick start), the loopback origins of the listening port', async () => {
    const quick = await startServer();
    try {
      const reg = (origin: string) => postJson(quick.url, '/api/auth/register', { username: `q${Math.random().toString(36).slice(2, 10)}`, password: 'tangerine-orbit-42' }, { origin });
      expect((await reg(`http://localhost:${quick.port}`)).status).toBe(201);
      expect((await reg(`http://127.0.0.1:${quick.port}`)).status).toBe(201);
      expect((await reg(`http://localhost:${quick.port + 1}`)).status).toBe(403);
      expect((await reg(`https://localhost:${quick.port}`)).status).toBe(403);
    } finally {
      await quick.close();
      quick.cleanup();
    }
  });
});
