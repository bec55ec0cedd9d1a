/// <reference lib="dom" />
// The functions passed to page.evaluate run in the browser.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../apps/api/src/config/app-config.js';
import { browserAvailable, launchChromium } from '../support/browser.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * A deploy: the server drains (every WebSocket closed with 1012, every event stream ended), is
 * down for a while, and a new one answers on the same port and data. Every open tab must be live
 * again within 2 s of it answering: the behavioural bound (the reconnect policy aims at
 * 0.5–1 s), not a performance figure.
 */
describe.runIf(browserAvailable)('a deploy (server restarted)', () => {
  const webDist = join(repoRoot, 'apps', 'web', 'dist');
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!existsSync(join(webDist, 'index.html'))) throw new Error('apps/web/dist is missing: run `npm run build` first');
    server = await startServer({ webDistDir: webDist });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    server?.cleanup();
  });

  async function signUp(username: string): Promise<Page> {
    const page = await (await browser!.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(server!.url);
    await page.getByTestId('auth-username').fill(username);
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('online');
    return page;
  }

  /** Both transports live in this tab: the chat socket online, the (possibly shared) event stream live. */
  const live = (page: Page) =>
    page.evaluate(
      () =>
        document.querySelector('[data-testid="connection-state"]')?.textContent === 'online' &&
        document.querySelector('[data-testid="stream-state"]')?.textContent === 'live',
    );

  it('brings every open tab back live within 2 s of the new server answering', async () => {
    const alice = await signUp('deployer');
    const aliceTab2 = await alice.context().newPage(); // shares alice's event stream through the leader tab
    await aliceTab2.goto(server!.url);
    const bob = await signUp('watcher');
    const tabs = [alice, aliceTab2, bob];
    for (const tab of tabs) await expect.poll(() => live(tab), { timeout: 15_000 }).toBe(true);

    const { port, config } = server!;
    await server!.close(); // drains: 1012 and ended streams
    for (const tab of tabs) await expect.poll(() => live(tab)).toBe(false);
    // Down long enough for several reconnect attempts to fail.
    await new Promise((r) => setTimeout(r, 2_500));
    server = await startServer({ webDistDir: webDist, port }, config.dataDir);
    const answering = Date.now();

    const backAfter = await Promise.all(
      tabs.map(async (tab) => {
        await tab.waitForFunction(
          () =>
            document.querySelector('[data-testid="connection-state"]')?.textContent === 'online' &&
            document.querySelector('[data-testid="stream-state"]')?.textContent === 'live',
          undefined,
          { polling: 25, timeout: 20_000 },
        );
        return Date.now() - answering;
      }),
    );
    if (process.env.PRINT_RECOVERY) console.log('live again after (ms):', backAfter);
    for (const ms of backAfter) expect(ms).toBeLessThanOrEqual(2_000);

    // And they work: a message goes from one side to the other.
    await alice.getByTestId('message-input').fill('after the deploy');
    await alice.getByTestId('message-send').click();
    await expect.poll(() => bob.getByTestId('message-text').allTextContents(), { timeout: 10_000 }).toContain('after the deploy');
  });
});
