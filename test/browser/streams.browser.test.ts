import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import { postJson, signUp, type SignedIn } from '../support/clients.js';
import { appInBrowser, browserAvailable } from '../support/browser.js';

describe.runIf(browserAvailable)('one event stream per browser', () => {
  const app = appInBrowser();
  let author: SignedIn;

  beforeAll(async () => {
    author = await signUp(app.server.url, 'author');
  });

  async function newBlog(title: string): Promise<number> {
    const res = await postJson(app.server.url, '/api/blogs', { title }, { cookie: author.cookie, origin: app.server.url });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: number }).id;
  }
  async function post(blog: number, body: string) {
    expect((await postJson(app.server.url, `/api/blogs/${blog}/updates`, { body }, { cookie: author.cookie })).status).toBe(201);
  }
  async function signedInContext(username: string): Promise<BrowserContext> {
    const context = await app.browser.newContext();
    const page = await context.newPage();
    await page.goto(app.server.url);
    await page.getByTestId('auth-username').fill(username);
    await page.getByTestId('auth-password').fill('password-123');
    await page.getByTestId('auth-register').click();
    await expect.poll(() => page.getByTestId('whoami').textContent()).toBe(username);
    await page.close();
    return context;
  }
  async function openTabs(context: BrowserContext, url: string, n: number): Promise<Page[]> {
    const pages: Page[] = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error(`[tab ${i}] page error:`, err));
      await page.goto(url);
      pages.push(page);
    }
    for (const page of pages) await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 15_000 }).toBe('live');
    return pages;
  }
  const bodies = (page: Page) => page.getByTestId('blog-update-body').allTextContents();
  const leaders = async (pages: Page[]) =>
    (await Promise.all(pages.map((p) => p.getByTestId('stream-state').getAttribute('data-leader')))).filter((l) => l === 'true').length;

  it('keeps eight tabs live on one connection, and hands over when the leader tab closes', async () => {
    const blog = await newBlog('Eight tabs');
    const sse = app.server.app.get(SseRepository);
    const before = sse.connectionCount;
    const context = await signedInContext('reader8');
    const tabs = await openTabs(context, `${app.server.url}/#/blogs/${blog}`, 8);
    expect(await leaders(tabs)).toBe(1);
    expect(sse.connectionCount).toBe(before + 1); // not eight: the browser's six-per-origin limit never bites

    await post(blog, 'first update');
    for (const tab of tabs) await expect.poll(() => bodies(tab)).toEqual(['first update']);

    // Close the leader; another tab takes over and nothing is lost.
    const states = await Promise.all(tabs.map((p) => p.getByTestId('stream-state').getAttribute('data-leader')));
    const leader = tabs[states.indexOf('true')]!;
    await leader.close();
    const rest = tabs.filter((t) => t !== leader);
    await post(blog, 'after the handover');
    for (const tab of rest) await expect.poll(() => bodies(tab), { timeout: 15_000 }).toEqual(['after the handover', 'first update']);
    await expect.poll(() => leaders(rest)).toBe(1);
    await expect.poll(() => sse.connectionCount).toBe(before + 1);
    await context.close();
  });

  it('falls back to polling when the stream endpoint fails, and still delivers', async () => {
    const blog = await newBlog('Degraded');
    const context = await signedInContext('poller');
    const streamEndpoint = (url: URL) => url.pathname === '/api/events';
    await context.route(streamEndpoint, (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"statusCode":503}' }));
    const page = await context.newPage();
    await page.goto(`${app.server.url}/#/blogs/${blog}`);
    await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 20_000 }).toBe('degraded');
    await post(blog, 'delivered by polling');
    await expect.poll(() => bodies(page), { timeout: 10_000 }).toEqual(['delivered by polling']);
    // The stream comes back: the app returns to live.
    await context.unroute(streamEndpoint);
    await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 30_000 }).toBe('live');
    await post(blog, 'live again');
    await expect.poll(() => bodies(page), { timeout: 10_000 }).toEqual(['live again', 'delivered by polling']);
    await context.close();
  });
});
