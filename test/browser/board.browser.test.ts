/// <reference lib="dom" />
// The room whiteboard (issue 19) in three browsers: strokes drawn with the mouse reach the
// others, and once every board has applied the same log the three canvases hold the same pixels
// (their PNGs are hashed), after a server restart too. Also: others' pointers, undo, clear, the
// PNG download, and a phone-width board.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { RoomRepository } from '../../apps/api/src/repositories/room.repository.js';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import { appInBrowser, browserAvailable, SCREENSHOTS } from '../support/browser.js';

/** Nothing sticks out sideways: the page cannot be scrolled horizontally. */
const overflow = (page: Page) => page.evaluate(() => document.scrollingElement!.scrollWidth - innerWidth);

async function openBoard(page: Page): Promise<void> {
  await page.getByTestId('board-tab').click();
  await expect.poll(() => page.getByTestId('board-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('live');
}

/** Drag the mouse through points given in board space (4000 x 2500). */
async function draw(page: Page, points: [number, number][]): Promise<void> {
  const box = (await page.getByTestId('board-canvas').boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + (x / 4000) * box.width, box.y + (y / 2500) * box.height] as const;
  await page.mouse.move(...at(points[0]!));
  await page.mouse.down();
  for (const point of points.slice(1)) await page.mouse.move(...at(point), { steps: 2 });
  await page.mouse.up();
}

/** The board's state as the page shows it, for waiting on. */
const boardState = (page: Page) =>
  page.getByTestId('board-canvas').evaluate((canvas) => {
    const status = document.querySelector('[data-testid="board-status"]')!;
    return {
      seq: Number(canvas.dataset.seq),
      drawn: canvas.dataset.drawnVersion === canvas.dataset.version,
      pending: Number(status.getAttribute('data-pending')),
    };
  });

/** Waits until every page shows the same log position, nothing of theirs is pending and the canvas is redrawn; returns the PNG hashes. */
async function settledHashes(pages: Page[]): Promise<string[]> {
  await expect
    .poll(
      async () => {
        const states = await Promise.all(pages.map(boardState));
        return states.every((s) => s.drawn && s.pending === 0 && s.seq === states[0]!.seq);
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  return Promise.all(
    pages.map(async (page) => {
      const url = await page.getByTestId('board-canvas').evaluate((canvas) => (canvas as HTMLCanvasElement).toDataURL('image/png'));
      return createHash('sha256').update(url).digest('hex');
    }),
  );
}

function wave(x0: number, y0: number, n: number, dx: number, amplitude: number): [number, number][] {
  return Array.from({ length: n }, (_, k) => [x0 + k * dx, y0 + Math.round(amplitude * Math.sin(k / 1.5))] as [number, number]);
}

describe.runIf(browserAvailable)('the room board', () => {
  const app = appInBrowser();

  it('gives every browser the same pixels: two drawing at once, eraser, undo, a late joiner, a restart, then a clear', async () => {
    const [{ page: alice }, { page: bob }, { page: carol }] = [await app.signUpIn('alice'), await app.signUpIn('bob'), await app.signUpIn('carol')];
    const pages = [alice, bob, carol];
    for (const page of pages) await openBoard(page);
    const blank = (await settledHashes(pages))[0];

    // Two people draw at the same time; a third erases across, then draws and undoes.
    await Promise.all([draw(alice, wave(200, 600, 16, 200, 200)), draw(bob, wave(300, 1500, 16, 200, 300))]);
    await carol.getByTestId('board-eraser').click();
    await draw(carol, [[1000, 200], [1500, 2300]]);
    await carol.getByTestId('board-eraser').click();
    await draw(carol, wave(2000, 2000, 6, 150, 50));
    await expect.poll(async () => (await boardState(carol)).pending).toBe(0);
    await carol.getByTestId('board-undo').click();
    const drawn = await settledHashes(pages);
    expect(new Set(drawn).size).toBe(1);
    expect(drawn[0]).not.toBe(blank);

    // Someone who opens the board later gets the picture: the same pixels.
    const { page: dave } = await app.signUpIn('dave');
    await openBoard(dave);
    expect(await settledHashes([...pages, dave])).toEqual([...drawn, drawn[0]]);
    pages.push(dave);

    // The others see where alice's pointer is, by name.
    const box = (await alice.getByTestId('board-canvas').boundingBox())!;
    await alice.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => bob.getByTestId('board-cursor').textContent()).toBe('alice');
    await bob.screenshot({ path: join(SCREENSHOTS, 'board-bob.png') });

    // A deploy: the server restarts while alice draws; everyone resumes to the same picture.
    const restarted = app.restart();
    await draw(alice, wave(100, 2200, 16, 220, 100));
    await restarted;
    const after = await settledHashes(pages);
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(drawn[0]);

    // The PNG download is the board: painted whole, it has the bytes of the canvas, which was
    // painted frame by frame with its settled strokes kept on a layer.
    const [download] = await Promise.all([bob.waitForEvent('download'), bob.getByTestId('board-download').click()]);
    expect(download.suggestedFilename()).toBe('board-general.png');
    const file = await readFile((await download.path()));
    const shown = await bob.getByTestId('board-canvas').evaluate((canvas) => (canvas as HTMLCanvasElement).toDataURL('image/png'));
    expect(file.equals(Buffer.from(shown.slice(shown.indexOf(',') + 1), 'base64'))).toBe(true);

    // A clear empties every board and says who did it.
    await bob.getByTestId('board-clear').click();
    await bob.getByTestId('board-clear-confirm').click();
    for (const page of pages) await expect.poll(() => page.getByTestId('board-cleared').textContent()).toBe('Cleared by bob');
    expect(await settledHashes(pages)).toEqual(pages.map(() => blank));
  });

  it("lets the metrics overlay compare SSE and WebSocket on the board's own entries", async () => {
    const [{ page: viewer }, { page: drawer }] = [await app.signUpIn('olga'), await app.signUpIn('pavel')];
    await openBoard(viewer);
    await openBoard(drawer);
    await viewer.getByTestId('metrics-toggle').click();
    const cell = (transport: 'sse' | 'ws', metric: string) => viewer.getByTestId(`m-${transport}-${metric}`).textContent();
    // Clock offsets first (latency needs them), then live strokes.
    await expect.poll(() => cell('sse', 'offset-uncertainty').then(Boolean), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => cell('ws', 'offset-uncertainty').then(Boolean), { timeout: 15_000 }).toBe(true);
    // The board is watched on the viewer's event stream too, from where its picture stands.
    const roomId = (await app.server.app.get(RoomRepository).refByName('general'))!.id;
    const sse = app.server.app.get(SseRepository);
    await expect.poll(() => sse.reads(`board:${roomId}`), { timeout: 10_000 }).toBe(true);
    for (let k = 0; k < 3; k++) await draw(drawer, wave(200 + k * 100, 500 + k * 600, 16, 220, 150));
    await settledHashes([viewer, drawer]);
    for (const transport of ['sse', 'ws'] as const) {
      await expect.poll(() => cell(transport, 'latency-p50'), { timeout: 15_000 }).toMatch(/\d/);
      expect(await cell(transport, 'gaps'), transport).toBe('0');
      expect(await cell(transport, 'duplicates'), transport).toBe('0');
    }
    await viewer.screenshot({ path: join(SCREENSHOTS, 'board-overlay.png') });
  });

  it('fits a phone: the board and its tools at 360 px wide, no sideways scrolling, and a finger-width stroke draws', async () => {
    const { page } = await app.signUpIn('thumbs');
    await page.setViewportSize({ width: 360, height: 740 });
    await openBoard(page);
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    for (const id of ['board-canvas', 'board-undo', 'board-clear', 'board-download', 'board-eraser']) {
      expect(await page.getByTestId(id).isVisible(), id).toBe(true);
    }
    const box = (await page.getByTestId('board-canvas').boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(360);
    expect(box.width / box.height).toBeCloseTo(1.6, 1);
    // A reload stays on the board (the tab's choice lasts the browser tab's session).
    await page.reload();
    await expect.poll(() => page.getByTestId('board-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('live');
    const before = await page.getByTestId('board-canvas').getAttribute('data-seq');
    await draw(page, [[500, 500], [1500, 900], [2500, 500]]);
    await expect.poll(async () => (await boardState(page)).pending).toBe(0);
    expect(await page.getByTestId('board-canvas').getAttribute('data-seq')).not.toBe(before);
    await page.screenshot({ path: join(SCREENSHOTS, 'board-phone.png') });
  });
});
