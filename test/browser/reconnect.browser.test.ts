import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../apps/api/src/config/app-config.js';
import { WebSocketRepository } from '../../apps/api/src/repositories/websocket.repository.js';
import { browserAvailable, launchChromium } from '../support/browser.js';
import { startServer, type TestServer } from '../support/server.js';

const webDist = join(repoRoot, 'apps', 'web', 'dist');

describe.runIf(browserAvailable)('a dropped connection in the browser', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(webDist, 'index.html'))) throw new Error('apps/web/dist is missing: run `npm run build` first (npm test does)');
    server = await startServer({ webDistDir: webDist, chatRateBurst: 1000, chatRatePerSecond: 1000 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    server?.cleanup();
  });

  async function signUpIn(username: string): Promise<{ page: Page; id: number }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[${username}] page error:`, err));
    await page.goto(server.url);
    await page.getByTestId('auth-username').fill(username);
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('online');
    const id = await page.evaluate(async () => ((await (await fetch('/api/auth/me')).json()) as { user: { id: number } }).user.id);
    return { page, id };
  }

  const shown = (page: Page) =>
    page.locator('[data-testid="message"][data-pending="false"]').evaluateAll((nodes) =>
      nodes.map((n) => [Number(n.getAttribute('data-seq')), n.querySelector('[data-testid="message-text"]')?.textContent?.trim()] as const),
    );

  async function say(page: Page, text: string) {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-send').click();
  }

  it('reconnects by itself and shows every message once, in order, including its own outbox', async () => {
    const alice = await signUpIn('alice');
    const bob = await signUpIn('bob');
    await say(alice.page, 'before the drop');
    await expect.poll(async () => (await shown(bob.page)).length).toBe(1);

    // The server cuts bob's socket (no closing handshake) while alice keeps writing.
    expect(server.app.get(WebSocketRepository).terminateUser(bob.id)).toBe(1);
    await expect.poll(() => bob.page.getByTestId('connection-state').textContent()).not.toBe('online');
    await say(bob.page, 'written while offline'); // goes to the outbox
    for (let i = 1; i <= 8; i++) await say(alice.page, `during ${i}`);

    await expect.poll(() => bob.page.getByTestId('connection-state').textContent(), { timeout: 15_000 }).toBe('online');
    const expected = ['before the drop', ...Array.from({ length: 8 }, (_, i) => `during ${i + 1}`), 'written while offline'];
    await expect.poll(async () => (await shown(bob.page)).map(([, text]) => text).sort(), { timeout: 15_000 }).toEqual([...expected].sort());
    const seqs = (await shown(bob.page)).map(([seq]) => seq);
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1)); // once each, in order, no gap
    expect(await bob.page.locator('[data-testid="message"][data-pending="true"]').count()).toBe(0);
    // Alice sees the same sequence.
    await expect.poll(async () => (await shown(alice.page)).map(([seq]) => seq)).toEqual(seqs);
    expect((await shown(alice.page)).map(([, t]) => t)).toEqual((await shown(bob.page)).map(([, t]) => t));
  });
});
