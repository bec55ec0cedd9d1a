/// <reference lib="dom" />
// The functions passed to page.evaluate run in the browser.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable } from '../support/browser.js';

describe.runIf(browserAvailable)('the chat basics people expect', () => {
  const app = appInBrowser({ chatRateBurst: 1000, chatRatePerSecond: 1000 });

  const room = (page: Page, name: string) => page.locator(`[data-testid="room"][data-room="${name}"]`);
  const stored = (page: Page) => page.locator('[data-testid="message"][data-pending="false"]');
  const hash = (page: Page) => page.evaluate(() => location.hash);

  async function say(page: Page, text: string) {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-send').click();
  }

  it('keeps the room in the URL: a deep link opens it, reload stays in it, Back and Forward walk the rooms', async () => {
    const { page } = await app.signUpIn('walker');
    await expect.poll(() => hash(page)).toBe('#/rooms/general');
    await page.getByTestId('new-room-name').fill('upstairs');
    await page.getByTestId('new-room-create').click();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('upstairs');
    await expect.poll(() => hash(page)).toBe('#/rooms/upstairs');
    await page.reload();
    await expect.poll(() => page.getByTestId('current-room').textContent(), { timeout: 15_000 }).toBe('upstairs');

    await page.getByTestId('nav-blogs').click();
    await expect.poll(() => hash(page)).toBe('#/blogs');
    await page.goBack();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('upstairs');
    await room(page, 'general').click();
    await expect.poll(() => hash(page)).toBe('#/rooms/general');
    await page.goBack();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('upstairs');
    await page.goForward();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('general');

    // A link typed or shared: straight into the room, in a fresh tab.
    const other = await page.context().newPage();
    await other.goto(`${app.server.url}/#/rooms/upstairs`);
    await expect.poll(() => other.getByTestId('current-room').textContent(), { timeout: 15_000 }).toBe('upstairs');
    // A hostile one lands in the default room, asking the server for nothing odd.
    const third = await page.context().newPage();
    await third.goto(`${app.server.url}/#/rooms/%3Cscript%3E`);
    await expect.poll(() => third.getByTestId('current-room').textContent(), { timeout: 15_000 }).toBe('general');
    await expect.poll(() => hash(third)).toBe('#/rooms/general');
  });

  it('a mention notification opens its message, scrolled to and highlighted; mentions and links show as such', async () => {
    const alice = (await app.signUpIn('alice')).page;
    const bob = (await app.signUpIn('bob')).page;
    await say(alice, 'hey @bob, the notes are at https://example.org/notes and javascript:alert(1) is not a link');
    // Enough after it that it scrolls out of view.
    for (let i = 0; i < 30; i++) await say(alice, `filler ${i}`);
    await expect.poll(() => stored(bob).count(), { timeout: 15_000 }).toBe(31);
    // Bob goes elsewhere.
    await bob.getByTestId('new-room-name').fill('elsewhere');
    await bob.getByTestId('new-room-create').click();
    await expect.poll(() => bob.getByTestId('current-room').textContent()).toBe('elsewhere');

    await expect.poll(() => bob.getByTestId('notification-count').textContent()).toBe('1');
    await bob.getByTestId('notification-bell').click();
    await bob.getByTestId('notification-open').first().click();
    await expect.poll(() => bob.getByTestId('current-room').textContent()).toBe('general');
    const target = bob.locator('[data-testid="message"][data-highlighted="true"]');
    await expect.poll(() => target.count()).toBe(1);
    expect(await target.getByTestId('message-text').textContent()).toMatch(/^hey @bob/);
    await expect.poll(() => target.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const list = el.closest('[data-testid="message-list"]')!.getBoundingClientRect();
      return box.top >= list.top && box.bottom <= list.bottom;
    })).toBe(true);
    expect(await hash(bob)).toMatch(/^#\/rooms\/general\/\d+$/);
    await expect.poll(() => bob.getByTestId('notification-count').textContent()).toBe('0');

    // The mention of bob is marked, for bob; the link is a safe link; the javascript: text is not one.
    const mention = target.getByTestId('mention');
    expect(await mention.textContent()).toBe('@bob');
    expect(await mention.getAttribute('class')).toMatch(/\bme\b/);
    const links = target.getByTestId('message-link');
    expect(await links.count()).toBe(1);
    expect(await links.getAttribute('href')).toBe('https://example.org/notes');
    expect(await links.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(await links.getAttribute('target')).toBe('_blank');
    expect(await bob.locator('a[href^="javascript:"]').count()).toBe(0);

    // Consecutive messages of one author are one run: the name shows once.
    const grouped = await stored(bob).evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-grouped')));
    expect(grouped[0]).toBe('false');
    expect(grouped.slice(1).every((g) => g === 'true')).toBe(true);
  });

  it('shares unread counts between the tabs of a browser', async () => {
    const writer = (await app.signUpIn('writer')).page;
    const reader = await app.signUpIn('reader');
    const tab1 = reader.page;
    const tab2 = await tab1.context().newPage();
    await tab2.goto(`${app.server.url}/#/rooms/general`);
    await expect.poll(() => tab2.getByTestId('connection-state').textContent(), { timeout: 15_000 }).toBe('online');
    await tab2.getByTestId('new-room-name').fill('side');
    await tab2.getByTestId('new-room-create').click();
    await expect.poll(() => tab2.getByTestId('current-room').textContent()).toBe('side');
    await expect.poll(() => tab1.getByTestId('current-room').textContent()).toBe('general');

    await say(writer, 'seen in tab 1');
    // Tab 1 shows it; tab 2, in another room, hears of it as unread, then that tab 1 read it.
    await expect.poll(() => tab1.getByTestId('message-text').allTextContents()).toContain('seen in tab 1');
    await expect.poll(() => room(tab2, 'general').getByTestId('room-unread').count(), { timeout: 4_000 }).toBe(0);

    // With tab 1 away from general too, both count the next one; reading it in one clears both.
    await room(tab1, 'side').click();
    await expect.poll(() => tab1.getByTestId('current-room').textContent()).toBe('side');
    await say(writer, 'unread in both');
    for (const tab of [tab1, tab2]) await expect.poll(() => room(tab, 'general').getByTestId('room-unread').textContent()).toBe('1');
    await room(tab2, 'general').click();
    await expect.poll(() => room(tab1, 'general').getByTestId('room-unread').count(), { timeout: 4_000 }).toBe(0);
  });

  it('composes several lines, counts toward the limit and refuses (never cuts) past it', async () => {
    const { page } = await app.signUpIn('typist');
    await page.getByTestId('new-room-name').fill('drafts');
    await page.getByTestId('new-room-create').click();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('drafts');
    const input = page.getByTestId('message-input');
    // Shift+Enter is a new line, Enter sends: one message of two lines.
    await input.click();
    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    await page.keyboard.press('Enter');
    await expect.poll(() => stored(page).count()).toBe(1);
    expect(await stored(page).getByTestId('message-text').textContent()).toBe('first line\nsecond line');
    expect(await input.inputValue()).toBe('');

    // A 5,000-character paste stays whole, is refused with the reason, and nothing is sent.
    await input.fill('y'.repeat(5000));
    expect((await input.inputValue()).length).toBe(5000);
    await expect.poll(() => page.getByTestId('composer-count').textContent()).toBe('5,000 / 4,000');
    expect(await page.getByTestId('composer-too-long').textContent()).toMatch(/^1,000 characters over the 4,000 limit/);
    expect(await page.getByTestId('message-send').isDisabled()).toBe(true);
    await input.press('Enter');
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored(page).count()).toBe(1);
    expect(await page.locator('[data-testid="message"][data-pending="true"]').count()).toBe(0);
    expect((await input.inputValue()).length).toBe(5000);

    // Shortened to the limit: sent whole.
    await input.fill('z'.repeat(4000));
    expect(await page.getByTestId('composer-too-long').count()).toBe(0);
    await input.press('Enter');
    await expect.poll(() => stored(page).count()).toBe(2);
    expect((await stored(page).last().getByTestId('message-text').textContent())!.length).toBe(4000);

    // @ completes from the room's members.
    const tycho = (await app.signUpIn('tycho')).page;
    await tycho.goto(`${app.server.url}/#/rooms/drafts`);
    await expect.poll(() => tycho.getByTestId('current-room').textContent(), { timeout: 15_000 }).toBe('drafts');
    await input.click();
    await page.keyboard.type('hi @ty');
    await expect.poll(() => page.getByTestId('mention-suggestion').allTextContents(), { timeout: 10_000 }).toEqual(['@tycho']);
    await page.keyboard.press('Enter'); // picks, does not send
    expect(await input.inputValue()).toBe('hi @tycho ');
    expect(await stored(page).count()).toBe(2);
  });
});
