/// <reference lib="dom" />
// The functions passed to page.evaluate run in the browser.
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable, SCREENSHOTS } from '../support/browser.js';

/** Nothing sticks out sideways: the page cannot be scrolled horizontally. */
const overflow = (page: Page) => page.evaluate(() => document.scrollingElement!.scrollWidth - innerWidth);

/** Wholly inside the window, and the element a tap at its centre reaches. */
async function reachable(page: Page, locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const size = page.viewportSize()!;
  if (!box || box.x < 0 || box.y < 0 || box.x + box.width > size.width + 0.5 || box.y + box.height > size.height + 0.5) return false;
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit !== null && (hit === el || el.contains(hit));
  });
}

describe.runIf(browserAvailable)('a phone (390x844)', () => {
  const app = appInBrowser();

  it('reaches every control: the header folds into a menu, the room list is a drawer, the overlay a full-screen sheet', async () => {
    const { page } = await app.signUpIn('thumbs');
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => overflow(page)).toBeLessThanOrEqual(0);

    // Always at hand: the bell, the menu, the rooms drawer's toggle, the composer.
    for (const id of ['notification-bell', 'menu-toggle', 'rooms-toggle', 'message-input', 'message-send', 'connection-state']) {
      expect(await reachable(page, page.getByTestId(id)), id).toBe(true);
    }
    // Folded away until the menu opens.
    expect(await page.getByTestId('sign-out').isVisible()).toBe(false);
    await page.getByTestId('menu-toggle').click();
    for (const id of ['nav-chat', 'nav-blogs', 'metrics-toggle', 'whoami', 'sign-out']) {
      expect(await reachable(page, page.getByTestId(id)), id).toBe(true);
    }
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.getByTestId('menu-toggle').click();

    // The composer sends.
    await page.getByTestId('message-input').fill('from a phone');
    await page.getByTestId('message-send').click();
    await expect.poll(() => page.locator('[data-testid="message"][data-pending="false"]').count()).toBe(1);
    expect(await reachable(page, page.getByTestId('message-edit'))).toBe(true);

    // The room list is a drawer: hidden, then over the chat, closed again by choosing a room.
    expect(await page.getByTestId('new-room-name').isVisible()).toBe(false);
    await page.getByTestId('rooms-toggle').click();
    await expect.poll(() => reachable(page, page.getByTestId('new-room-name'))).toBe(true);
    expect(await reachable(page, page.getByTestId('new-room-create'))).toBe(true);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.getByTestId('new-room-name').fill('pocket');
    await page.getByTestId('new-room-create').click();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('pocket');
    // Going to the new room closed the drawer; it opens again to choose another.
    await expect.poll(() => page.getByTestId('rooms-toggle').getAttribute('aria-expanded')).toBe('false');
    await page.getByTestId('rooms-toggle').click();
    await page.locator('[data-testid="room"][data-room="general"]').click();
    await expect.poll(() => page.getByTestId('current-room').textContent()).toBe('general');
    await expect.poll(() => page.getByTestId('new-room-name').isVisible()).toBe(false);

    // The notifications drop down inside the screen.
    await page.getByTestId('notification-bell').click();
    await expect.poll(() => reachable(page, page.getByTestId('notifications-read-all'))).toBe(true);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.getByTestId('notification-bell').click();

    // The overlay is a full-screen sheet, every panel reachable by scrolling it, and it closes.
    await page.getByTestId('menu-toggle').click();
    await page.getByTestId('metrics-toggle').click();
    await expect.poll(() => page.getByTestId('metrics-col-ws').count()).toBe(1);
    const sheet = (await page.getByTestId('metrics-overlay').boundingBox())!;
    expect(sheet).toEqual({ x: 0, y: 0, width: 390, height: 844 });
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    for (const id of ['m-ahead-latency-p50', 'probe-run', 'netsim-drop', 'netsim-pause', 'metrics-close']) {
      const control = page.getByTestId(id);
      await control.scrollIntoViewIfNeeded();
      expect(await reachable(page, control), id).toBe(true);
    }
    await page.getByTestId('metrics-overlay').evaluate((el) => el.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-overlay.png') });
    await page.getByTestId('metrics-close').click();
    await expect.poll(() => page.getByTestId('metrics-overlay').count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone.png') });

    // The blogs, through the menu; then sign out through it.
    await page.getByTestId('menu-toggle').click();
    await page.getByTestId('nav-blogs').click();
    await expect.poll(() => page.getByTestId('blog-title-input').count()).toBe(1);
    expect(await reachable(page, page.getByTestId('blog-title-input'))).toBe(true);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    await page.getByTestId('menu-toggle').click();
    await page.getByTestId('sign-out').click();
    await expect.poll(() => page.getByTestId('auth-username').count()).toBe(1);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    // Signed out, no stream status dot claims "offline".
    expect(await page.getByTestId('stream-state').count()).toBe(0);
  });
});
