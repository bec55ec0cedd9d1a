import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable, SCREENSHOTS as shots } from '../support/browser.js';

describe.runIf(browserAvailable)('two people in two browsers', () => {
  const app = appInBrowser();


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
    const alice = (await app.signUpIn('alice')).page;
    const bob = (await app.signUpIn('bob')).page;
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
