/// <reference lib="dom" />
// The functions passed to page.evaluate run in the browser.
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable } from '../support/browser.js';

describe.runIf(browserAvailable)('destructive actions ask first; blogs count followers live', () => {
  const app = appInBrowser();

  it('asks before deleting a message, and Cancel keeps it', async () => {
    const { page } = await app.signUpIn('deleter');
    await page.getByTestId('message-input').fill('keep me, then lose me');
    await page.getByTestId('message-send').click();
    const message = page.locator('[data-testid="message"][data-pending="false"]').last();
    await expect.poll(() => message.count()).toBe(1);
    await message.hover();
    await message.getByTestId('message-delete').click();
    await message.getByTestId('message-delete-cancel').click();
    await new Promise((r) => setTimeout(r, 300));
    expect(await message.getByTestId('message-deleted').count()).toBe(0);
    await message.hover();
    await message.getByTestId('message-delete').click();
    await message.getByTestId('message-delete-confirm').click();
    await expect.poll(() => message.getByTestId('message-deleted').count()).toBe(1);
  });

  it('shows the author live follower counts and no Follow on her own blog; asks before deleting an update or ending; a refused post’s banner goes when the text is fixed', async () => {
    const author = (await app.signUpIn('author')).page;
    await author.getByTestId('nav-blogs').click();
    await author.getByTestId('blog-title-input').fill('Launch');
    await author.getByTestId('blog-create').click();
    await expect.poll(() => author.getByTestId('blog-title').textContent()).toBe('Launch');
    const href = await author.evaluate(() => location.hash);
    expect(href).toMatch(/^#\/blogs\/\d+$/);
    expect(await author.getByTestId('blog-follow').count()).toBe(0);
    expect(await author.getByTestId('blog-followers').textContent()).toBe('0');

    const reader = (await app.signUpIn('follower')).page;
    await reader.goto(`${app.server.url}/${href}`);
    await expect.poll(() => reader.getByTestId('blog-title').textContent(), { timeout: 15_000 }).toBe('Launch');
    await reader.getByTestId('blog-follow').click();
    await expect.poll(() => author.getByTestId('blog-followers').textContent(), { timeout: 10_000 }).toBe('1');
    await reader.getByTestId('blog-follow').click(); // unfollow
    await expect.poll(() => author.getByTestId('blog-followers').textContent(), { timeout: 10_000 }).toBe('0');

    // Too long: refused with the server's reason; the banner goes once the text changes.
    await author.getByTestId('blog-composer').fill('x'.repeat(10_001));
    await author.getByTestId('blog-post').click();
    await expect.poll(() => author.getByTestId('blog-error').textContent()).toMatch(/at most 10000 characters/);
    await author.getByTestId('blog-composer').fill('');
    await expect.poll(() => author.getByTestId('blog-error').count()).toBe(0);
    await author.getByTestId('blog-composer').fill('We are live');
    await author.getByTestId('blog-post').click();
    await expect.poll(() => reader.getByTestId('blog-update-body').allTextContents()).toEqual(['We are live']);

    // Deleting an update asks.
    await author.getByTestId('blog-update').first().hover();
    await author.getByTestId('blog-update-delete').click();
    await author.getByTestId('blog-update-delete-cancel').click();
    await new Promise((r) => setTimeout(r, 300));
    expect(await reader.getByTestId('blog-update-body').allTextContents()).toEqual(['We are live']);
    await author.getByTestId('blog-update').first().hover();
    await author.getByTestId('blog-update-delete').click();
    await author.getByTestId('blog-update-delete-confirm').click();
    await expect.poll(() => reader.getByTestId('blog-update-body').count()).toBe(0);

    // Ending asks.
    await author.getByTestId('blog-end').click();
    await author.getByTestId('blog-end-cancel').click();
    await new Promise((r) => setTimeout(r, 300));
    expect(await reader.getByTestId('blog-ended').count()).toBe(0);
    await author.getByTestId('blog-end').click();
    await author.getByTestId('blog-end-confirm').click();
    await expect.poll(() => reader.getByTestId('blog-ended').count()).toBe(1);
  });
});
