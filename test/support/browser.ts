import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { repoRoot, type AppConfig } from '../../apps/api/src/config/app-config.js';
import { startServer, type TestServer } from './server.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Whether the browser suite runs. Outside CI a machine without Chromium skips it with a warning;
 * under CI=true it always runs, so a missing Chromium fails loudly instead of passing silently.
 */
export const browserAvailable = existsSync(CHROMIUM_PATH) || IN_CI;
if (!browserAvailable) {
  console.warn(`[browser tests] skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is required for the browser tests but was not found at ${CHROMIUM_PATH}; .ci/run installs it with apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * The browser suites' shared setup: the real server serving the built web app (fresh database),
 * one Chromium, and a way to sign a new person up in their own browser context. Registers its
 * own beforeAll/afterAll; call it inside a `describe`.
 */
export function appInBrowser(overrides: Partial<AppConfig> = {}) {
  const webDist = join(repoRoot, 'apps', 'web', 'dist');
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!existsSync(join(webDist, 'index.html'))) throw new Error('apps/web/dist is missing: run `npm run build` first (npm test does)');
    server = await startServer({ webDistDir: webDist, ...overrides });
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    server?.cleanup();
  });
  const harness = {
    get server(): TestServer {
      if (!server) throw new Error('the server is not started yet');
      return server;
    },
    get browser(): Browser {
      if (!browser) throw new Error('the browser is not started yet');
      return browser;
    },
    /**
     * Stops the server and starts it again on the same port and data, as a deploy would: the pages
     * stay open and reconnect by themselves. Resolves once the new server listens.
     */
    async restart(): Promise<void> {
      const old = harness.server;
      await old.close();
      server = await startServer({ webDistDir: webDist, ...overrides, port: old.port }, old.config.dataDir);
    },
    /**
     * Signs a new user up in a fresh context; resolves once the chat socket is online. `onPage`
     * sees the page before it loads (to watch its WebSockets from the first one, say).
     */
    async signUpIn(username: string, onPage?: (page: Page) => void): Promise<{ page: Page; id: number }> {
      const context = await harness.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error(`[${username}] page error:`, err));
      onPage?.(page);
      await page.goto(harness.server.url);
      await page.getByTestId('auth-username').fill(username);
      await page.getByTestId('auth-password').fill('password-123');
      await page.getByTestId('auth-register').click();
      await expect.poll(() => page.getByTestId('whoami').textContent()).toBe(username);
      await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('online');
      const id = await page.evaluate(async () => ((await (await fetch('/api/auth/me')).json()) as { user: { id: number } }).user.id);
      return { page, id };
    },
  };
  return harness;
}

/** Where browser tests leave screenshots for people to look at. */
export const SCREENSHOTS = join(repoRoot, 'test-results');
