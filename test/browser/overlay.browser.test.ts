import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appInBrowser, browserAvailable, SCREENSHOTS } from '../support/browser.js';

describe.runIf(browserAvailable)('the metrics overlay', () => {
  const app = appInBrowser();

  it('compares both transports live, runs a probe, and shows both recovering from a drop with no gaps', async () => {
    const { page } = await app.signUpIn('measurer');
    await page.getByTestId('metrics-toggle').click();
    await expect.poll(() => page.getByTestId('metrics-col-ws').count()).toBe(1);
    await expect.poll(() => page.getByTestId('metrics-col-sse').count()).toBe(1);
    await expect.poll(() => page.getByTestId('m-sse-state').textContent(), { timeout: 15_000 }).toMatch(/live|online|open/);

    // A 3-second probe at the default size and rate.
    await page.getByTestId('probe-duration').fill('3');
    await page.getByTestId('probe-run').click();
    await expect.poll(() => page.getByTestId('probe-results').count(), { timeout: 30_000 }).toBe(1);
    const number = async (id: string) => Number.parseFloat((await page.getByTestId(id).textContent()) ?? '');
    for (const t of ['ws', 'sse']) {
      await expect.poll(() => number(`m-${t}-rate`), { timeout: 10_000 }).toBeGreaterThan(0);
      await expect.poll(() => number(`m-${t}-latency-p50`), { timeout: 10_000 }).toBeGreaterThan(0);
      await expect.poll(() => number(`m-${t}-wire-bytes`), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'overlay.png') });
    if (process.env.PRINT_PROBE) console.log('PROBE RESULTS\n' + (await page.getByTestId('probe-results').innerText()));

    // Remembered across reloads.
    await page.reload();
    await expect.poll(() => page.getByTestId('metrics-col-ws').count(), { timeout: 15_000 }).toBe(1);

    // Drop both connections: both recover, no gaps.
    await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 15_000 }).toBe('online');
    const reconnects = async (t: string) => number(`m-${t}-reconnects`);
    const before = { ws: await reconnects('ws'), sse: await reconnects('sse') };
    await page.getByTestId('netsim-drop').click();
    await expect.poll(() => reconnects('ws'), { timeout: 20_000 }).toBeGreaterThan(before.ws);
    await expect.poll(() => reconnects('sse'), { timeout: 20_000 }).toBeGreaterThan(before.sse);
    await expect.poll(() => page.getByTestId('connection-state').textContent(), { timeout: 20_000 }).toBe('online');
    expect(await number('m-ws-gaps')).toBe(0);
    expect(await number('m-sse-gaps')).toBe(0);
  });
});
