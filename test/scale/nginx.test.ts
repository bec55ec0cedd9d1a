// Two instances behind a real nginx (Debian's package), configured by the very file the README
// shows (docs/nginx.conf): WebSocket upgrades pass, SSE events arrive unbuffered, and when an
// instance stops, clients reconnect through nginx to the other one and miss nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, range, readStream, SseClient, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startInstance, type Instance } from '../support/instances.js';
import { redisPrefix, REDIS_URL, servicesAvailable, testDatabase } from '../support/services.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (!NGINX && ci) throw new Error('nginx is required under CI (apt-get install -y nginx-light; .ci/run installs it)');
if (!NGINX) console.warn('skipping the nginx suite: nginx is not installed (apt-get install -y nginx-light)');
const available = (await servicesAvailable()) && NGINX !== undefined;

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Runs nginx in the foreground with docs/nginx.conf pointed at `upstreams`, on `port`. */
async function startNginx(upstreams: number[], port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const sample = readFileSync(resolve(import.meta.dirname, '..', '..', 'docs', 'nginx.conf'), 'utf8');
  const site = sample
    .replace(/^\s*server 127\.0\.0\.1:\d+[^\n]*\n/gm, '')
    .replace(/upstream realtime \{\n/, `upstream realtime {\n${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;\n`).join('')}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  expect(site).toContain(`listen 127.0.0.1:${port};`);
  writeFileSync(join(dir, 'realtime.conf'), site);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/realtime.conf;
}
`,
  );
  const child: ChildProcess = spawn(NGINX!, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`${url}/api/health/live`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not answer: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!available)('behind nginx', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let a: Instance;
  let b: Instance;
  let proxy: Awaited<ReturnType<typeof startNginx>>;
  let alice: SignedIn;
  let bob: SignedIn;
  let wsUrl: string;

  beforeAll(async () => {
    db = await testDatabase();
    // The instances are told the origin browsers see, the proxy's (PUBLIC_ORIGIN), as in production.
    const port = await freePort();
    const env = { DATABASE_URL: db.url, REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(), SSE_RETRY_MS: '200', SHUTDOWN_GRACE_MS: '3000', PUBLIC_ORIGIN: `http://127.0.0.1:${port}` };
    [a, b] = await Promise.all([startInstance('a', env), startInstance('b', env)]);
    proxy = await startNginx([a.port, b.port], port);
    wsUrl = `${proxy.url.replace('http', 'ws')}/ws`;
    alice = await signUp(proxy.url, `alice${Date.now().toString(36)}`);
    bob = await signUp(proxy.url, `bob${Date.now().toString(36)}`);
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await db?.drop();
  });

  it('passes WebSocket upgrades and chat both ways, on both instances', async () => {
    const sockets = await Promise.all(range(0, 3).map((i) => WsClient.connect(wsUrl, (i % 2 ? alice : bob).cookie)));
    const hellos = await Promise.all(sockets.map((ws) => ws.waitFor('hello')));
    // Round robin: both instances serve sockets through the one address.
    expect(new Set(hellos.map((h) => String(h.connectionId).split('-')[0]))).toEqual(new Set(['a', 'b']));
    for (const ws of sockets) await ws.join('general');
    sockets[0]!.send('message', { room: 'general', text: 'through nginx', clientId: 'n1' });
    for (const ws of sockets) await ws.waitFor('message', (m) => m.text === 'through nginx');
    for (const ws of sockets) ws.close();
  });

  it('delivers SSE events as they happen, not when a buffer fills', async () => {
    const created = await postJson(proxy.url, '/api/blogs', { title: 'Proxied' }, { cookie: alice.cookie, origin: proxy.url });
    expect(created.status).toBe(201);
    const blog = (await created.json()) as { id: number };
    const res = await fetch(`${proxy.url}/api/blogs/${blog.id}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // One small event (far below any proxy buffer) must come through while the stream is open.
    const text = readStream(res, (t) => t.includes(',"tiny"]'), 3000);
    await new Promise((r) => setTimeout(r, 100));
    const posted = await postJson(proxy.url, `/api/blogs/${blog.id}/updates`, { body: 'tiny' }, { cookie: alice.cookie, origin: proxy.url });
    expect(posted.status).toBe(201);
    expect(await text).toMatch(/^id: 1\ndata: \[\d+,\d{13},"tiny"\]$/m); // an `update`: [id, t, body]
  });

  it('when an instance stops, SSE and WebSocket clients reconnect through nginx to the other one and miss nothing', async () => {
    const created = await postJson(proxy.url, '/api/blogs', { title: 'Failover' }, { cookie: alice.cookie, origin: proxy.url });
    const blog = (await created.json()) as { id: number };
    const post = async (body: string) => expect((await postJson(proxy.url, `/api/blogs/${blog.id}/updates`, { body }, { cookie: alice.cookie, origin: proxy.url })).status).toBe(201);
    // The real EventSource client: it reconnects by itself, with Last-Event-ID.
    const sse = new SseClient(`${proxy.url}/api/blogs/${blog.id}/stream`, undefined, ['update', 'hello']);
    await sse.waitForOpen();
    const ws = await WsClient.connect(wsUrl, bob.cookie);
    await ws.join('general');
    const sseHome = String((await eventually(() => sse.events.find((e) => e.type === 'hello'))).data.connectionId).split('-')[0]!;
    const wsHome = String((await ws.waitFor('hello')).connectionId).split('-')[0]!;
    for (let i = 0; i < 3; i++) await post(`u${i}`);
    await eventually(() => (sse.events.filter((e) => e.type === 'update').length === 3 ? true : undefined));

    // Stop the instance that serves the stream (gracefully): the stream ends and EventSource
    // comes back through nginx, which now has only the other instance.
    const victim = sseHome === 'a' ? a : b;
    const survivor = victim === a ? b : a;
    await victim.stop('SIGTERM');
    for (let i = 3; i < 6; i++) await post(`u${i}`);
    await sse.waitForOpen(2, 10_000);
    await eventually(() => (sse.events.filter((e) => e.type === 'update').length >= 6 ? true : undefined), 10_000, 'six updates');
    const updates = sse.events.filter((e) => e.type === 'update');
    expect(updates.map((e) => e.data.body)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5']);
    expect(updates.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5, 6]);
    const hellos = sse.events.filter((e) => e.type === 'hello').map((e) => String(e.data.connectionId).split('-')[0]);
    expect(hellos).toEqual([sseHome, survivor.name]);
    // The WebSocket, if it was on the stopped instance, was told 1012 and comes back the same way.
    if (wsHome === victim.name) {
      expect(await ws.waitClosed()).toBe(1012);
      const back = await WsClient.connect(wsUrl, bob.cookie);
      expect(String((await back.waitFor('hello')).connectionId).split('-')[0]).toBe(survivor.name);
      await back.join('general');
      back.close();
    } else {
      ws.close();
    }
    sse.close();
  });
});
