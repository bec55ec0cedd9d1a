import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable, SCREENSHOTS as shots } from '../support/browser.js';

describe.runIf(browserAvailable)('rooms, edits, presence and typing in the browser', () => {
  const app = appInBrowser();

  const texts = (page: Page) => page.getByTestId('message-text').allTextContents();
  const room = (page: Page, name: string) => page.locator(`[data-testid="room"][data-room="${name}"]`);

  it('creates and switches rooms, counts unread, edits and deletes, shows presence and typing', async () => {
    const alice = (await app.signUpIn('alice')).page;
    const bob = (await app.signUpIn('bob')).page;

    await alice.getByTestId('new-room-name').fill('design');
    await alice.getByTestId('new-room-create').click();
    await expect.poll(() => alice.getByTestId('current-room').textContent()).toBe('design');
    await alice.getByTestId('new-room-name').fill('design');
    await alice.getByTestId('new-room-create').click();
    await expect.poll(() => alice.getByTestId('room-error').textContent()).toMatch(/exists/);

    // Bob sees the room appear, and joins it.
    await expect.poll(() => room(bob, 'design').count(), { timeout: 15_000 }).toBe(1);
    await room(bob, 'design').click();
    await expect.poll(() => bob.getByTestId('current-room').textContent()).toBe('design');
    await expect.poll(() => alice.getByTestId('presence-user').allTextContents()).toEqual(['alice', 'bob']);

    // Typing shows on the other side.
    await bob.getByTestId('message-input').pressSequentially('hel');
    await expect.poll(() => alice.getByTestId('typing-indicator').textContent()).toMatch(/bob is typing/);

    // Bob goes back to general; alice's messages in design count as unread for him.
    await room(bob, 'general').click();
    await expect.poll(() => bob.getByTestId('current-room').textContent()).toBe('general');
    for (const text of ['one', 'two']) {
      await alice.getByTestId('message-input').fill(text);
      await alice.getByTestId('message-send').click();
    }
    await expect.poll(() => room(bob, 'design').getByTestId('room-unread').textContent(), { timeout: 15_000 }).toBe('2');
    await room(bob, 'design').click();
    await expect.poll(() => texts(bob)).toEqual(['one', 'two']);
    await expect.poll(() => room(bob, 'design').getByTestId('room-unread').count()).toBe(0);

    // Alice edits and deletes her own messages; bob sees both live.
    const first = alice.locator('[data-testid="message"][data-seq="1"]');
    await first.hover();
    await first.getByTestId('message-edit').click();
    await alice.getByTestId('message-edit-input').fill('one (fixed)');
    await alice.getByTestId('message-edit-input').press('Enter');
    await expect.poll(() => texts(bob)).toEqual(['one (fixed)', 'two']);
    expect(await bob.locator('[data-testid="message"][data-seq="1"] [data-testid="message-edited"]').count()).toBe(1);
    const second = alice.locator('[data-testid="message"][data-seq="2"]');
    await second.hover();
    await second.getByTestId('message-delete').click();
    await second.getByTestId('message-delete-confirm').click(); // a destructive action asks first
    await expect.poll(() => bob.locator('[data-testid="message"][data-seq="2"] [data-testid="message-deleted"]').count()).toBe(1);
    // Bob cannot edit alice's messages: no buttons on them.
    expect(await bob.locator('[data-testid="message"][data-seq="1"] [data-testid="message-edit"]').count()).toBe(0);
    await bob.screenshot({ path: join(shots, 'rooms-bob.png') });
  });
});
