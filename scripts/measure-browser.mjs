// Measures the built app by hand, in real Chromium: two people chat and mention each other, then
// the server restarts under them. Prints delivery latencies and recovery times.
//
//   npm run build && node scripts/measure-browser.mjs [--messages 50] [--mentions 10]
//
// Both pages run in one browser on one machine, so send and receive times come from the same
// clock (performance.timeOrigin + performance.now()): no offset correction is needed and the
// figures include the browser's event handling and Svelte's DOM update, not just the network.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((a) => a.trim().split(/\s+/)));
const MESSAGES = Number(args.messages ?? 50);
const MENTIONS = Number(args.mentions ?? 10);
const root = resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'rt-measure-'));

const freePort = () =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
const port = await freePort();
const base = `http://127.0.0.1:${port}`;

function startServer() {
  const flags = (process.env.SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, join(root, 'apps/api/dist/main.js')], {
    // Lift the chat rate limit: this measures delivery, and 70 messages in a few seconds would
    // otherwise be held back by the default 20-then-5-per-second allowance.
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development', CHAT_RATE_BURST: '100000', CHAT_RATE_PER_SECOND: '100000' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}
async function waitReady(timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${base}/api/auth/me`);
      if (res.status === 401) return;
    } catch {
      // Not listening yet: try again.
    }
    if (Date.now() > deadline) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const stop = (child) => new Promise((res) => (child.exitCode !== null ? res() : (child.once('exit', res), child.kill('SIGTERM'))));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

let server = startServer();
await waitReady();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

async function person(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const frames = { ws: [], sse: [], sentAt: {} };
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketFrameReceived', (e) => {
    frames.ws.push(Buffer.byteLength(e.response.payloadData));
    try {
      const { event, data } = JSON.parse(e.response.payloadData);
      if (event === 'message') frames.sentAt[data.text] ??= data.sentAt;
    } catch {
      // Not a JSON frame of ours: counted above, nothing to time.
    }
  });
  cdp.on('Network.eventSourceMessageReceived', (e) => frames.sse.push(Buffer.byteLength(e.data)));
  await page.goto(base);
  await page.getByTestId('auth-username').fill(name);
  await page.getByTestId('auth-password').fill('password-123');
  await page.getByTestId('auth-register').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="connection-state"]')?.textContent === 'online');
  // Record when each message and each unread-count change reaches the DOM.
  await page.evaluate(() => {
    const now = () => performance.timeOrigin + performance.now();
    window.__seen = {};
    // The moment the send button is clicked, taken inside the page (not by the automation).
    document.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('[data-testid="message-send"]')) window.__clickAt = now();
    }, true);
    window.__counts = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid="message"][data-pending="false"]')) {
        const text = el.querySelector('[data-testid="message-text"]')?.textContent ?? '';
        window.__seen[text] ??= now();
      }
      const count = document.querySelector('[data-testid="notification-count"]')?.textContent;
      if (count !== window.__counts.at(-1)?.count) window.__counts.push({ count, at: now() });
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  return { page, frames };
}

/** Types and clicks send; returns the page's own timestamp of the click. */
async function send(page, text) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('message-send').click();
  return page.evaluate(() => window.__clickAt);
}

const alice = await person('alice');
const bob = await person('bob');

// 1. Chat delivery, alice → bob, one message at a time.
const chat = [];
const toServer = [];
const toScreen = [];
for (let i = 0; i < MESSAGES; i++) {
  const text = `m${i}`;
  const clickAt = await send(alice.page, text);
  const seenAt = await (await bob.page.waitForFunction((t) => window.__seen[t], text)).jsonValue();
  chat.push(seenAt - clickAt);
  // The frame's sentAt splits the path: click → stored and sent by the server → on bob's screen.
  const serverAt = bob.frames.sentAt[text];
  if (serverAt) {
    toServer.push(serverAt - clickAt);
    toScreen.push(seenAt - serverAt);
  }
}

// 2. Mention → notification in bob's bell.
const mentions = [];
for (let i = 0; i < MENTIONS; i++) {
  const before = await bob.page.evaluate(() => window.__counts.length);
  const sentAt = await send(alice.page, `hey @bob ${i}`);
  const at = await (await bob.page.waitForFunction((n) => window.__counts.length > n && window.__counts.at(-1).at, before)).jsonValue();
  mentions.push(at - sentAt);
}

// 3. Restart the server under both people; mention bob as soon as alice is back.
const stoppedAt = Date.now();
await stop(server);
server = startServer();
await waitReady();
const readyAt = Date.now();
const online = async (p) => {
  await p.page.waitForFunction(() => document.querySelector('[data-testid="connection-state"]')?.textContent === 'online', null, { timeout: 30_000 });
  return Date.now();
};
const [aliceBack, bobBack] = await Promise.all([online(alice), online(bob)]);
const countBefore = await bob.page.evaluate(() => document.querySelector('[data-testid="notification-count"]')?.textContent);
await send(alice.page, 'back @bob');
await bob.page.waitForFunction((c) => document.querySelector('[data-testid="notification-count"]')?.textContent !== c, countBefore, { timeout: 30_000 });
await bob.page.waitForFunction(() => window.__seen['back @bob']);
const seqs = await bob.page.$$eval('[data-testid="message"][data-pending="false"]', (els) => els.map((e) => Number(e.getAttribute('data-seq'))));
const gapless = seqs.every((s, i) => s === i + 1);

console.log(`\nmeasured on ${base} with ${browser.version()}`);
console.log(`chat message, click in one browser to DOM in the other: ${fmt(chat)}`);
console.log(`  of which click → server sends (stored, frame built): ${fmt(toServer)}`);
console.log(`  and server sends → on the other screen: ${fmt(toScreen)}`);
console.log(`mention, click to the bell's unread count in the other browser: ${fmt(mentions)}`);
console.log(`WebSocket frame received by bob, payload bytes: ${fmt(bob.frames.ws).replaceAll(' ms', ' B')}`);
console.log(`SSE event data received by bob, bytes: ${fmt(bob.frames.sse).replaceAll(' ms', ' B')}`);
console.log(`restart: server down→ready ${readyAt - stoppedAt} ms; clients online again after ready: alice ${aliceBack - readyAt} ms, bob ${bobBack - readyAt} ms`);
console.log(`after restart: bob holds ${seqs.length} messages, seq 1..${seqs.at(-1)}, ${gapless ? 'no gap, no duplicate' : 'GAP OR DUPLICATE: ' + seqs.join(',')}`);

await browser.close();
await stop(server);
rmSync(dataDir, { recursive: true, force: true });
process.exit(gapless ? 0 : 1);
