import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { postJson, signUp } from '../support/clients.js';
import { appInBrowser, browserAvailable, SCREENSHOTS } from '../support/browser.js';

/** Messages in each burst. */
const COUNT = 120;

describe.runIf(browserAvailable)('a fast burst from one person, in the browser', () => {
  // Typing below runs at about 50 messages a second here: far past 10 at once then 10 a second,
  // and 120 still drain in about 12 s.
  const app = appInBrowser({ chatRateBurst: 10, chatRatePerSecond: 10 });
  let people = 0;

  /** A writer and a reader, each signed in in their own browser context, both in a new room. */
  async function roomWithTwo(room: string) {
    const owner = await signUp(app.server.url, `owner${++people}`);
    expect((await postJson(app.server.url, '/api/rooms', { name: room }, { cookie: owner.cookie })).status).toBe(201);
    let refusals: ReturnType<typeof countRefusals> | undefined;
    const writer = await app.signUpIn(`writer${people}`, (page) => (refusals = countRefusals(page)));
    const reader = await app.signUpIn(`reader${people}`);
    for (const { page } of [writer, reader]) {
      await page.locator(`[data-testid="room"][data-room="${room}"]`).click();
      await expect.poll(() => page.getByTestId('current-room').textContent()).toBe(room);
      await expect.poll(() => page.getByTestId('presence-user').count()).toBeGreaterThan(0);
    }
    await expect.poll(() => writer.page.getByTestId('presence-user').allTextContents()).toContain(`reader${people}`);
    return { writer, reader, refusals: refusals! };
  }

  /** Counts the server's `rate_limited` and `out_of_order` answers on every socket the page opens. */
  function countRefusals(page: Page) {
    const counts = { rate_limited: 0, out_of_order: 0, sockets: 0 };
    page.on('websocket', (ws) => {
      counts.sockets += 1;
      ws.on('framereceived', ({ payload }) => {
        const text = typeof payload === 'string' ? payload : payload.toString();
        if (!text.startsWith('{"event":"error"')) return;
        const code = (JSON.parse(text) as { data: { code?: string } }).data.code;
        if (code === 'rate_limited' || code === 'out_of_order') counts[code] += 1;
      });
    });
    return counts;
  }

  const texts = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `burst ${String(from + i).padStart(3, '0')}`);

  /** Types each text into the composer and presses Enter, as fast as the browser takes it. */
  async function type(page: Page, lines: string[]) {
    const input = page.getByTestId('message-input');
    await input.focus();
    for (const line of lines) {
      await page.keyboard.insertText(line);
      await page.keyboard.press('Enter');
    }
  }

  /** Stored messages shown on the page, in the order shown: [seq, text]. */
  const shown = (page: Page) =>
    page.locator('[data-testid="message"][data-pending="false"]').evaluateAll((nodes) =>
      nodes.map((n) => [Number(n.getAttribute('data-seq')), n.querySelector('[data-testid="message-text"]')?.textContent?.trim() ?? ''] as const),
    );

  /** The room's whole history from the server (REST), oldest first. */
  const history = (page: Page, room: string) =>
    page.evaluate(async (name) => {
      const all: { seq: number; text: string }[] = [];
      let before = '';
      for (;;) {
        const res = await fetch(`/api/rooms/${name}/messages?limit=100${before}`);
        const body = (await res.json()) as { messages: { seq: number; text: string }[]; hasMore: boolean };
        all.unshift(...body.messages.map(({ seq, text }) => ({ seq, text })));
        if (!body.hasMore || body.messages.length === 0) return all;
        before = `&before=${body.messages[0]!.seq}`;
      }
    }, room);

  /** Every reader and the server hold exactly the typed texts, once each, in typed order, seq 1..N. */
  async function expectStoredInOrder(room: string, writer: Page, reader: Page, expected: string[]) {
    const seqs = expected.map((_, i) => i + 1);
    await expect.poll(() => writer.locator('[data-testid="message"][data-pending="true"]').count(), { timeout: 45_000 }).toBe(0);
    for (const page of [reader, writer]) {
      await expect.poll(async () => (await shown(page)).length, { timeout: 15_000 }).toBe(expected.length);
      const list = await shown(page);
      expect(list.map(([, text]) => text)).toEqual(expected);
      expect(list.map(([seq]) => seq)).toEqual(seqs);
    }
    const stored = await history(reader, room);
    expect(stored.map((m) => m.text)).toEqual(expected);
    expect(stored.map((m) => m.seq)).toEqual(seqs);
    expect(await writer.getByTestId('outbox-status').count()).toBe(0);
  }

  it('stores 120 messages typed at full speed exactly once, in typed order, for every reader and the server', async () => {
    const room = 'burst';
    const { writer, reader, refusals } = await roomWithTwo(room);
    const expected = texts(1, COUNT);
    await type(writer.page, expected);
    // The user sees that messages wait, and that they will go in order.
    await expect.poll(() => writer.page.getByTestId('outbox-status').textContent()).toMatch(/waiting: you are writing faster than the server allows; they go out in the order you wrote them/);
    await writer.page.screenshot({ path: join(SCREENSHOTS, 'burst-outbox.png') });
    await expectStoredInOrder(room, writer.page, reader.page, expected);
    expect(refusals.rate_limited, 'the burst ran past the rate limit').toBeGreaterThan(0);
  });

  /** Half the burst, then `interrupt` (while the other half is typed), then the checks. */
  async function burstAcross(room: string, interrupt: (writer: Page) => Promise<void>) {
    const { writer, reader, refusals } = await roomWithTwo(room);
    const expected = texts(1, COUNT);
    await type(writer.page, expected.slice(0, COUNT / 2));
    const interrupted = interrupt(writer.page);
    await type(writer.page, expected.slice(COUNT / 2));
    await interrupted;
    await expect.poll(() => writer.page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
    await expectStoredInOrder(room, writer.page, reader.page, expected);
    expect(refusals.rate_limited, 'the burst ran past the rate limit').toBeGreaterThan(0);
    expect(refusals.sockets, 'the writer reconnected').toBeGreaterThanOrEqual(2);
  }

  it('keeps the order across a connection dropped in the middle of the burst', async () => {
    await burstAcross('burst-drop', async (writer) => {
      const dropped = await writer.evaluate(async () => (await fetch('/api/netsim/drop', { method: 'POST' })).json() as Promise<unknown>);
      expect(dropped).toMatchObject({ ws: 1 });
    });
  });

  it('keeps the order across a server restart in the middle of the burst', async () => {
    await burstAcross('burst-restart', () => app.restart());
  });
});
