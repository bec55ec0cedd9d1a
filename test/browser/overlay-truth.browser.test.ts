/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The functions passed to page.evaluate run in the browser.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable, SCREENSHOTS } from '../support/browser.js';

/** A duration as the overlay writes it ("1.6 ms", "12 ms", "2.35 s") in ms; NaN for "—". */
function parseDuration(text: string | null): number {
  const match = /^(−?[\d.]+) (ms|s)$/.exec((text ?? '').trim());
  if (!match) return Number.NaN;
  const value = Number.parseFloat(match[1]!.replace('−', '-'));
  return match[2] === 's' ? value * 1000 : value;
}

/** How far a shown duration may be from the true value by rounding alone. */
const rounding = (ms: number) => (ms < 10 ? 0.05 : ms < 1000 ? 0.5 : 5);

/**
 * Every visible control of the app (buttons, links, inputs, messages) whose centre is inside the
 * window: whether the element a click there would reach is the control itself (or inside it).
 * Returns the ones something else covers.
 */
function coveredControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const overlay = document.querySelector('[data-testid="metrics-overlay"]');
    const covered: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, a[href], input, textarea, [data-testid="message"], [data-testid="connection-state"]')) {
      if (overlay?.contains(el)) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const x = box.left + box.width / 2;
      const y = box.top + box.height / 2;
      if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
      const hit = document.elementFromPoint(x, y);
      if (!hit || !(el === hit || el.contains(hit))) covered.push(`${el.dataset.testid ?? el.tagName}: covered by ${hit?.closest('[data-testid]')?.getAttribute('data-testid') ?? hit?.tagName}`);
    }
    return covered;
  });
}

describe.runIf(browserAvailable)('the metrics overlay tells the truth and stays out of the way', () => {
  const app = appInBrowser();

  it('on a probe-only run, the live rows and the probe table agree within their stated uncertainty', async () => {
    const { page } = await app.signUpIn('scientist');
    await page.getByTestId('metrics-toggle').click();
    await expect.poll(() => page.getByTestId('m-sse-state').textContent(), { timeout: 15_000 }).toBe('open');
    await expect.poll(() => page.getByTestId('m-ws-offset-uncertainty').count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.getByTestId('m-sse-offset-uncertainty').count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.getByTestId('probe-run').isEnabled(), { timeout: 15_000 }).toBe(true);
    // Nothing with a send time has arrived yet: no percentile from no samples.
    expect(await page.getByTestId('m-ws-latency-p50').textContent()).toBe('—');

    // 150 messages: enough for p99 (100 samples), and fewer than the live window holds (200).
    await page.getByTestId('probe-duration').fill('3');
    await page.getByTestId('probe-rate').fill('50');
    await page.getByTestId('probe-run').click();
    await expect.poll(() => page.getByTestId('probe-results').count(), { timeout: 40_000 }).toBe(1);
    for (const t of ['ws', 'sse'] as const) {
      expect(await page.getByTestId(`probe-${t}-delivered`).textContent()).toBe('150 / 150');
      // The live window holds exactly the probe's timed phase, said so; the CPU-phase burst is left out.
      await expect.poll(() => page.getByTestId(`m-${t}-samples`).textContent()).toBe('150 (all probe)');
      const uncertainty = Number.parseFloat((await page.getByTestId(`m-${t}-offset-uncertainty`).textContent())!.replace('±', ''));
      for (const p of ['p50', 'p95', 'p99']) {
        const live = parseDuration(await page.getByTestId(`m-${t}-latency-${p}`).textContent());
        const probe = parseDuration(await page.getByTestId(`probe-${t}-${p}`).textContent());
        expect(Number.isFinite(live), `${t} live ${p}`).toBe(true);
        expect(Number.isFinite(probe), `${t} probe ${p}`).toBe(true);
        expect(Math.abs(live - probe), `${t} ${p}: live ${live} vs probe ${probe}`).toBeLessThanOrEqual(uncertainty + rounding(live) + rounding(probe));
      }
      // Per-message wire bytes leave the heartbeats and pings out: the payload plus a frame's worth.
      const wire = Number.parseFloat((await page.getByTestId(`m-${t}-wire-bytes`).textContent()) ?? '');
      const payload = Number.parseFloat((await page.getByTestId(`m-${t}-payload-bytes`).textContent()) ?? '');
      expect(wire).toBeGreaterThan(payload);
      expect(wire - payload).toBeLessThan(40);
    }
    // Each verdict says why.
    await expect.poll(() => page.getByTestId('metrics-because').count()).toBe(1);
    expect(await page.getByTestId('metrics-because').innerText()).toMatch(/because|within the clocks’ uncertainty/);

    await page.screenshot({ path: join(SCREENSHOTS, 'overlay-docked.png') });

    // The CSV has the results table first, then the samples.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('probe-export-csv').click()]);
    const csv = readFileSync((await download.path()), 'utf8');
    const [summary, samples] = csv.split('\n\n');
    expect(summary!.split('\n')[0]).toBe('metric,sse,ws');
    expect(summary).toMatch(/^Delivered,150 \/ 150,150 \/ 150$/m);
    expect(summary).toMatch(/^Latency p50 \(ms\),[\d.]+,[\d.]+$/m);
    expect(samples!.split('\n')[0]).toBe('run,transport,n,sentAt,receivedAt,latencyMs');
    expect(samples!.trim().split('\n')).toHaveLength(1 + 300);
  });

  it('docks beside the app: no click on the app’s controls lands on it, the dropdown’s “Mark all read” included', async () => {
    const { page } = await app.signUpIn('clicker');
    await page.getByTestId('message-input').fill('my own message, right-aligned');
    await page.getByTestId('message-send').click();
    await expect.poll(() => page.locator('[data-testid="message"][data-pending="false"]').count()).toBe(1);
    await page.getByTestId('metrics-toggle').click();
    await expect.poll(() => page.getByTestId('metrics-col-ws').count()).toBe(1);
    // The app reflowed: nothing of it is under the overlay.
    const overlayBox = (await page.getByTestId('metrics-overlay').boundingBox())!;
    const appBox = (await page.locator('.shell').boundingBox())!;
    expect(appBox.x + appBox.width).toBeLessThanOrEqual(overlayBox.x + 0.5);
    expect(await coveredControls(page)).toEqual([]);
    await page.getByTestId('notification-bell').click();
    await expect.poll(() => page.getByTestId('notification-list').count()).toBe(1);
    expect(await coveredControls(page)).toEqual([]);
    // A real click (Playwright refuses one that another element would receive).
    await page.getByTestId('notifications-read-all').click({ timeout: 5_000 });
    await page.getByTestId('connection-state').click({ timeout: 5_000 });
  });

  it('says what is wrong with an input instead of doing nothing, and opens closed in a new tab unless pinned', async () => {
    const { page } = await app.signUpIn('careful');
    await page.getByTestId('metrics-toggle').click();
    await page.getByTestId('netsim-pause-seconds').fill('31');
    await page.getByTestId('netsim-pause').click();
    await expect.poll(() => page.getByTestId('netsim-invalid').textContent()).toBe('Pause must be from 1 to 30 s (got 31)');
    await page.getByTestId('probe-duration').fill('45');
    await page.getByTestId('probe-run').click();
    await expect.poll(() => page.getByTestId('probe-invalid').textContent()).toBe('Duration must be from 0.5 to 30 s (got 45)');
    expect(await page.getByTestId('probe-progress').count()).toBe(0); // nothing was started

    // Open here; a new tab of the same browser starts with it closed...
    const second = await page.context().newPage();
    await second.goto(app.server.url);
    await expect.poll(() => second.getByTestId('whoami').textContent()).toBe('careful');
    expect(await second.getByTestId('metrics-overlay').count()).toBe(0);
    // ...and a reload keeps this tab's choice.
    await page.reload();
    await expect.poll(() => page.getByTestId('metrics-overlay').count(), { timeout: 15_000 }).toBe(1);
    // Pinned, it opens in every new tab.
    await page.getByTestId('metrics-pin').click();
    const third = await page.context().newPage();
    await third.goto(app.server.url);
    await expect.poll(() => third.getByTestId('metrics-overlay').count(), { timeout: 15_000 }).toBe(1);
  });
});
