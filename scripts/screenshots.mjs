// Takes the README's screenshots from the built app in real Chromium: the desktop with the
// metrics overlay docked after a probe (docs/images/overlay.png), a phone (docs/images/phone.png),
// and a room's board with two people drawing at once and the overlay open (docs/images/board.png).
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

  // The board: alice (overlay open) and carol draw at the same time, in two colours.
  const carol = await person('carol', { width: 1280, height: 800 });
  await alice.getByTestId('probe-results').waitFor();
  for (const page of [alice, carol]) {
    await page.getByTestId('board-tab').click();
    await until(async () => (await page.getByTestId('board-status').getAttribute('data-state')) === 'live');
  }
  await carol.getByTestId('board-colour').nth(4).click();
  const draw = async (page, points) => {
    const box = await page.getByTestId('board-canvas').boundingBox();
    const at = ([x, y]) => [box.x + (x / 4000) * box.width, box.y + (y / 2500) * box.height];
    await page.mouse.move(...at(points[0]));
    await page.mouse.down();
    for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 3 });
    await page.mouse.up();
  };
  const wave = (x0, y0, n, dx, a) => Array.from({ length: n }, (_, k) => [x0 + k * dx, y0 + Math.round(a * Math.sin(k / 1.5))]);
  const spiral = (cx, cy, turns) => Array.from({ length: turns * 24 }, (_, k) => [cx + Math.round(Math.cos(k / 3.8) * k * 9), cy + Math.round(Math.sin(k / 3.8) * k * 6)]);
  for (let k = 0; k < 4; k++) {
    await Promise.all([draw(alice, wave(250, 400 + k * 450, 18, 100, 120)), draw(carol, spiral(2900, 1250, 2 + (k % 2)))]);
  }
  const box = await carol.getByTestId('board-canvas').boundingBox();
  await carol.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.2);
  await until(async () => (await alice.getByTestId('board-cursor').count()) === 1);
  await until(async () => (await alice.getByTestId('board-status').getAttribute('data-pending')) === '0');
  await new Promise((r) => setTimeout(r, 2500)); // the overlay's next render
  await alice.screenshot({ path: join(images, 'board.png') });
  console.log('wrote docs/images/overlay.png, docs/images/phone.png and docs/images/board.png');
} finally {
  await browser.close();
  await new Promise((res) => (server.exitCode !== null ? res() : (server.once('exit', res), server.kill('SIGTERM'))));
  rmSync(dataDir, { recursive: true, force: true });
}
