import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let user: SignedIn;
beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url, 'target');
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

describe('hostile input', () => {
  it('refuses prototype-pollution keys in JSON bodies, and the process is unharmed', async () => {
    const body = '{"username":"polluter","password":"password-123","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}';
    const res = await fetch(`${server.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'the key "__proto__" is not allowed' });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { cookie: user.cookie } })).status).toBe(200);
  });

  it('ignores bodies that are not JSON on JSON endpoints (400, nothing stored)', async () => {
    for (const [type, body] of [
      ['text/plain', 'username=x&password=y'],
      ['application/x-www-form-urlencoded', 'username=formuser&password=password-123'],
      ['application/json', 'null'],
      ['application/json', '"a string"'],
      ['application/json', '{"username": "deep", "password": ' + '['.repeat(5000) + ']'.repeat(5000) + '}'],
    ]) {
      const res = await fetch(`${server.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': type! }, body });
      expect(res.status, `${type} ${body!.slice(0, 30)}`).toBe(400);
    }
    expect((await postJson(server.url, '/api/auth/login', { username: 'formuser', password: 'password-123' })).status).toBe(401);
  });

  it('survives WebSocket frames with hostile shapes and keeps serving the socket', async () => {
    const ws = await WsClient.connect(server.wsUrl, user.cookie);
    await ws.join('general');
    const hostile = [
      '{"event":"join","data":{"room":"general","__proto__":{"afterSeq":-1}}}',
      '{"event":"constructor","data":{}}',
      '{"event":"toString","data":{}}',
      '{"event":"message","data":{"room":"general","text":{"toString":"x"},"clientId":"h1"}}',
      '{"event":"message","data":{"room":["general"],"text":"x","clientId":"h2"}}',
      '{"event":"join","data":{"room":"general","afterSeq":1e400}}',
      '{"event":"join","data":{"room":"general","afterSeq":9007199254740993}}',
      '{"event":"' + 'x'.repeat(3000) + '","data":{}}',
      '[' .repeat(1000) + ']'.repeat(1000),
      '{"event":"message","data":{"room":"general","clientId":"h3","text":' + '['.repeat(5000) + ']'.repeat(5000) + '}}',
      '\u0000\u0001\u0002',
    ];
    const before = ws.of('error').length;
    for (const frame of hostile) ws.sendRaw(frame);
    await expect.poll(() => ws.of('error').length - before, { timeout: 5000 }).toBeGreaterThanOrEqual(hostile.length - 1);
    const codes = new Set(ws.of('error').slice(before).map((e) => e.code));
    expect([...codes].every((c) => ['bad_json', 'bad_frame', 'unknown_event', 'invalid'].includes(c as string))).toBe(true);
    for (const e of ws.of('error').slice(before)) expect((e.message as string).length).toBeLessThanOrEqual(200);
    ws.send('message', { room: 'general', text: 'still fine', clientId: 'after-hostile' });
    await ws.waitFor('ack', (d) => d.clientId === 'after-hostile');
    ws.close();
  });

  it('answers oversized headers and cookies without crashing', async () => {
    const huge = await fetch(`${server.url}/api/auth/me`, { headers: { cookie: `session=${'a'.repeat(20_000)}` } }).catch((e: unknown) => e);
    if (huge instanceof Response) expect([401, 431]).toContain(huge.status);
    const many = await fetch(`${server.url}/api/auth/me`, { headers: { cookie: Array.from({ length: 200 }, (_, i) => `c${i}=v`).join('; ') } });
    expect(many.status).toBe(401);
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { cookie: user.cookie } })).status).toBe(200);
  });
});
