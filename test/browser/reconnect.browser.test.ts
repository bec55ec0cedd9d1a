import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { WebSocketRepository } from '../../apps/api/src/repositories/websocket.repository.js';
import { appInBrowser, browserAvailable } from '../support/browser.js';

describe.runIf(browserAvailable)('a dropped connection in the browser', () => {
  const app = appInBrowser({ chatRateBurst: 1000, chatRatePerSecond: 1000 });


  const shown = (page: Page) =>
    page.locator('[data-testid="message"][data-pending="false"]').evaluateAll((nodes) =>
      nodes.map((n) => [Number(n.getAttribute('data-seq')), n.querySelector('[data-testid="message-text"]')?.textContent?.trim()] as const),
    );

  async function say(page: Page, text: string) {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-send').click();
  }

  it('reconnects by itself and shows every message once, in order, including its own outbox', async () => {
    const alice = await app.signUpIn('alice');
    const bob = await app.signUpIn('bob');
    await say(alice.page, 'before the drop');
    await expect.poll(async () => (await shown(bob.page)).length).toBe(1);

    // The server cuts bob's socket (no closing handshake) while alice keeps writing.
    expect(app.server.app.get(WebSocketRepository).terminateUser(bob.id)).toBe(1);
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
