// Takes the README's screenshots from the built app in real Chromium: the desktop with the
// metrics overlay docked after a probe (docs/images/overlay.png) and a phone (docs/images/phone.png).
//
//   npm run build && node scripts/screenshots.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..');
const images = join(root, 'docs', 'images');
const dataDir = mkdtempSync(join(tmpdir(), 'rt-shots-'));
const port = await new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => res(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, [join(root, 'apps/api/dist/main.js')], {
  env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
const until = async (check, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${check}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

try {
  await until(async () => (await fetch(`${base}/api/health/live`)).ok);
  async function person(name, viewport) {
    const page = await (await browser.newContext({ viewport, deviceScaleFactor: viewport.width < 500 ? 2 : 1 })).newPage();
    await page.goto(base);
    await page.getByTestId('auth-username').fill(name);
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await until(async () => (await page.getByTestId('connection-state').textContent()) === 'online');
    return page;
  }
  const say = async (page, text) => {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-send').click();
  };

  const alice = await person('alice', { width: 1440, height: 900 });
  const bob = await person('bob', { width: 390, height: 844 });
  await say(alice, 'Morning! Release notes are at https://example.org/notes');
  await say(alice, 'Two things left before we ship.');
  await say(bob, '@alice I can take the migration check');
  await say(alice, 'Thanks @bob, the overlay is docked on the right: run a probe there.');
  await say(bob, 'On it.');

  await alice.getByTestId('metrics-toggle').click();
  await until(async () => (await alice.getByTestId('probe-run').isEnabled()) && (await alice.getByTestId('m-sse-offset-uncertainty').count()) === 1);
  await alice.getByTestId('probe-duration').fill('3');
  await alice.getByTestId('probe-run').click();
  await until(async () => (await alice.getByTestId('probe-results').count()) === 1, 40_000);
  await new Promise((r) => setTimeout(r, 2500)); // a few more chart points and byte polls
  await alice.getByTestId('metrics-overlay').evaluate((el) => el.scrollTo(0, 0));
  await alice.screenshot({ path: join(images, 'overlay.png') });

  await bob.reload();
  await until(async () => (await bob.getByTestId('message-text').count()) === 5);
  await bob.screenshot({ path: join(images, 'phone.png') });
  console.log('wrote docs/images/overlay.png and docs/images/phone.png');
} finally {
  await browser.close();
  await new Promise((res) => (server.exitCode !== null ? res() : (server.once('exit', res), server.kill('SIGTERM'))));
  rmSync(dataDir, { recursive: true, force: true });
}
