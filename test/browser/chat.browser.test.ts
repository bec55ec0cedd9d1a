import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../apps/api/src/config/app-config.js';
import { browserAvailable, launchChromium } from '../support/browser.js';
import { startServer, type TestServer } from '../support/server.js';

const webDist = join(repoRoot, 'apps', 'web', 'dist');
const shots = join(repoRoot, 'test-results');

describe.runIf(browserAvailable)('two people in two browsers', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(webDist, 'index.html'))) throw new Error('apps/web/dist is missing: run `npm run build` first (npm test does)');
    server = await startServer({ webDistDir: webDist });
    browser = await launchChromium();
    mkdirSync(shots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    server?.cleanup();
  });

  async function signUpIn(username: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[${username}] page error:`, err));
    await page.goto(server.url);
    await page.getByTestId('auth-username').fill(username);
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await expect.poll(() => page.getByTestId('whoami').textContent()).toBe(username);
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('online');
    return page;
  }

  const messages = (page: Page) =>
    page.getByTestId('message').evaluateAll((nodes) =>
      nodes.map((n) => ({
        seq: n.getAttribute('data-seq'),
        pending: n.getAttribute('data-pending'),
        author: n.querySelector('[data-testid="message-author"]')?.textContent?.trim(),
        text: n.querySelector('[data-testid="message-text"]')?.textContent?.trim(),
      })),
    );

  async function say(page: Page, text: string) {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-send').click();
  }

  it('sign in, chat both ways, and a mention notification arrives live', async () => {
    const alice = await signUpIn('alice');
    const bob = await signUpIn('bob');
    expect(await bob.getByTestId('notification-count').textContent()).toBe('0');

    await say(alice, 'hello @bob, <b>not bold</b>');
    await expect.poll(() => messages(bob)).toEqual([{ seq: '1', pending: 'false', author: 'alice', text: 'hello @bob, <b>not bold</b>' }]);
    // Text is rendered as text, never as HTML.
    expect(await bob.locator('[data-testid="message-text"] b').count()).toBe(0);
    await expect.poll(() => bob.getByTestId('notification-count').textContent()).toBe('1');

    await say(bob, 'hi alice');
    await expect.poll(() => messages(alice)).toEqual([
      { seq: '1', pending: 'false', author: 'alice', text: 'hello @bob, <b>not bold</b>' },
      { seq: '2', pending: 'false', author: 'bob', text: 'hi alice' },
    ]);

    await bob.getByTestId('notification-bell').click();
    const item = bob.getByTestId('notification').first();
    expect(await item.getByTestId('notification-title').textContent()).toContain('alice mentioned you in #general');
    expect(await item.getByTestId('notification-body').textContent()).toContain('hello @bob');
    await bob.screenshot({ path: join(shots, 'chat-bob.png') });
    await bob.getByTestId('notifications-read-all').click();
    await expect.poll(() => bob.getByTestId('notification-count').textContent()).toBe('0');

    // A reload keeps the session (cookie) and the history.
    await alice.reload();
    await expect.poll(() => alice.getByTestId('whoami').textContent()).toBe('alice');
    await expect.poll(async () => (await messages(alice)).map((m) => m.seq)).toEqual(['1', '2']);
    await alice.screenshot({ path: join(shots, 'chat-alice.png') });

    await alice.getByTestId('sign-out').click();
    await expect.poll(() => alice.getByTestId('auth-username').count()).toBe(1);
  });
});
