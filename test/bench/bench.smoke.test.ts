import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { FLAKY_SYSTEMS, SYSTEMS } from '../../apps/bench/src/protocol.js';
import type { Results } from '../../apps/bench/src/report.js';
import { MULTI_CONFIGS } from '../../apps/bench/src/scenarios.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'rt-bench-smoke-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

// The benchmark in smoke mode: tiny numbers, every scenario (the whiteboard's included), every system, real processes and
// sockets. It checks that the benchmark works and that every system delivered every message; it
// never asserts a timing (performance is reported by `npm run bench`, not tested).
describe('npm run bench --smoke', () => {
  let results: Results;
  let markdown: string;
  let svg: string;

  test('runs every scenario against every system and writes the report', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'apps', 'bench', 'dist', 'run.js'), '--smoke', '--out', out], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toContain('Targets:');
    results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    markdown = readFileSync(join(out, 'README.md'), 'utf8');
    svg = readFileSync(join(out, 'fanout.svg'), 'utf8');
    expect(results.meta.mode).toBe('smoke');
  });

  test('every system delivered every message in every scenario', () => {
    const sizes = results.meta.settings.fanoutSizes as number[];
    for (const system of SYSTEMS) {
      for (const n of sizes) {
        const point = results.fanout.find((p) => p.system === system && p.receivers === n);
        expect(point, `${system} x${n}`).toBeDefined();
        expect(point!.complete, `${system} x${n} fan-out complete`).toBe(true);
        for (const m of [...point!.repeats.saturation, ...point!.repeats.half]) {
          expect(m.delivered).toBe(m.expected);
          expect(m.expected).toBe(m.sent * n);
          expect(m.latency.n).toBe(m.delivered);
        }
      }
      const sweep = results.sweep.filter((p) => p.system === system);
      expect(sweep.map((p) => p.payloadBytes)).toEqual(results.meta.settings.sweepSizes);
      for (const p of sweep) {
        expect(p.complete, `${system} sweep ${p.payloadBytes}`).toBe(true);
        // Every message carried at least its payload, and the wire at least every frame.
        expect(p.dataBytes).toBeGreaterThanOrEqual(p.payloadBytes);
        expect(p.wireBytes).toBeGreaterThanOrEqual(p.frameBytes);
      }
      expect(results.idle.filter((p) => p.system === system).map((p) => p.connections)).toEqual(results.meta.settings.idleSizes);
    }
    // A live blog has one author, so the app's SSE has no chat-room row.
    expect(results.chat.map((p) => p.system).sort()).toEqual(SYSTEMS.filter((s) => s !== 'app-sse').sort());
    for (const p of results.chat) expect(p.complete, `${p.system} chat`).toBe(true);
  });

  test("the app's WebSocket frames are exactly header plus text on the wire, and the bytes come from the socket", () => {
    for (const p of results.sweep.filter((q) => q.system === 'app-ws' || q.system === 'raw-ws')) {
      expect(p.exact, `${p.system} ${p.payloadBytes}`).toBe(true);
      expect(p.wireBytes).toBe(p.frameBytes);
    }
    // raw ws relays the payload as is: 2 bytes of header up to 125 bytes, 4 up to 64 KiB.
    const raw = results.sweep.filter((p) => p.system === 'raw-ws');
    for (const p of raw) expect(p.wireBytes).toBe(p.payloadBytes + (p.payloadBytes <= 125 ? 2 : 4));
    // The floor writes the payload and a newline.
    for (const p of results.sweep.filter((q) => q.system === 'floor')) expect(p.wireBytes).toBe(p.payloadBytes + 1);
  });

  // Issue 19's whiteboard: every system, every viewer count, every segment to every viewer, none
  // refused (the app's drawers are each their own user), and the figures the report compares.
  test('the whiteboard reached every viewer with every segment, on every system', () => {
    const viewers = results.meta.settings.boardViewers as number[];
    const drawers = results.meta.settings.boardDrawers as number;
    const board = results.whiteboard ?? [];
    expect(board.map((p) => `${p.system} x${p.viewers}`)).toEqual(viewers.flatMap((n) => SYSTEMS.map((s) => `${s} x${n}`)));
    for (const p of board) {
      const what = `${p.system} x${p.viewers}`;
      expect(p.complete, what).toBe(true);
      expect(p.drawers, what).toBe(drawers);
      expect(p.repeats, what).toHaveLength(results.meta.settings.repeats as number);
      for (const m of p.repeats) {
        expect(m.errors, what).toBe(0);
        expect(m.sent % drawers, what).toBe(0);
        expect(m.expected, what).toBe(m.sent * p.viewers);
        expect(m.delivered, what).toBe(m.expected);
        expect({ lost: m.lost, duplicated: m.duplicated }, what).toEqual({ lost: 0, duplicated: 0 });
        expect(m.latency.n, what).toBe(m.delivered);
        expect(m.serverCpuMs, what).toBeGreaterThan(0);
      }
      // 4 to 8 points a segment; on the wire at least those points' digits, and as much for every system (seeded pens).
      expect(p.pointsPerSegment, what).toBeGreaterThanOrEqual(4);
      expect(p.pointsPerSegment, what).toBeLessThanOrEqual(8);
      expect(p.pointsPerSegment, what).toBe(board[0]!.pointsPerSegment);
      expect(p.wireBytesPerSegment, what).toBeGreaterThan(p.pointsPerSegment * 2 * 2);
    }
    for (const n of viewers) expect(markdown).toContain(`### ${n} viewers, ${drawers} drawers`);
  });

  // Two instances on the machine's PostgreSQL and Redis: skipped with a warning when they are not
  // reachable, except under CI=true, where the run itself fails (and so the first test).
  test('two instances over Redis delivered every message, to receivers on the other instance', (ctx) => {
    if (results.multiSkipped) {
      expect(process.env.CI === 'true' || process.env.CI === '1', 'skipped under CI').toBe(false);
      expect(markdown).toContain(`Skipped: ${results.multiSkipped}`);
      ctx.skip();
    }
    const receivers = results.meta.settings.multiReceivers as number;
    const rates = results.meta.settings.multiRates as number[];
    const multi = results.multi ?? [];
    expect(multi.map((p) => `${p.config}@${p.rate}`)).toEqual(MULTI_CONFIGS.flatMap((c) => rates.map((r) => `${c}@${r}`)));
    for (const p of multi) {
      expect(p.complete, `${p.config} @${p.rate}`).toBe(true);
      expect(p.repeats).toHaveLength(results.meta.settings.repeats as number);
      for (const m of p.repeats) {
        expect(m.delivered).toBe(m.expected);
        expect(m.expected).toBe(m.sent * receivers);
        expect(m.latency.n).toBe(m.delivered);
      }
      expect(p.cpuMicrosPerDeliveryEach).toHaveLength(p.config === 'two-redis' ? 2 : 1);
      expect(p.cpuMicrosPerDelivery).toBeGreaterThan(0);
      expect(p.redisCpuMicrosPerDelivery === null).toBe(p.config === 'one');
    }
    expect(markdown).toContain('### What the hop costs');
  });

  test('stored messages per second: every message acked once, each room\'s acked seqs exactly 1..N, on SQLite and PostgreSQL, a room each and one room', () => {
    const store = results.store ?? [];
    // PostgreSQL is skipped (with a warning) only where the machine lacks it, never under CI.
    const points = store.map((p) => `${p.engine} ${p.layout}`);
    expect(points.slice(0, 2)).toEqual(['sqlite room-each', 'sqlite one-room']);
    if (process.env.CI === 'true' || process.env.CI === '1') expect(points).toEqual(['sqlite room-each', 'sqlite one-room', 'postgres room-each', 'postgres one-room']);
    for (const p of store) expect(p.rooms).toBe(p.layout === 'one-room' ? 1 : p.publishers);
    for (const p of store) {
      expect(p.complete, `${p.engine} complete`).toBe(true);
      expect(p.gapless, `${p.engine} gapless`).toBe(true);
      expect(p.steps.length).toBeGreaterThan(0);
      for (const step of p.steps) expect(step.totalAcked).toBeGreaterThanOrEqual(step.acked);
    }
  });

  // Flaky networks: every client drops and comes back (churn), the server restarts under them
  // (storm). The counts are checked, never a timing: the app's two transports get every message
  // the server took exactly once, in order, through both; the baselines are only measured.
  test('churn and storm ran for every flaky system, and the app delivered exactly once through both', () => {
    for (const [scenario, points, clients] of [
      ['churn', results.churn ?? [], results.meta.settings.churnClients],
      ['storm', results.storm ?? [], results.meta.settings.stormClients],
    ] as const) {
      expect(points.map((p) => p.system), scenario).toEqual([...FLAKY_SYSTEMS]);
      for (const p of points) {
        const what = `${scenario} ${p.system}`;
        expect(p.clients, what).toBe(clients);
        expect(p.accepted, what).toBeGreaterThan(0);
        expect(p.expected, what).toBe(p.accepted * p.clients);
        // Every (client, message) pair is exactly once, lost, or received more than once.
        expect(p.exactlyOnce + p.lost, what).toBeLessThanOrEqual(p.expected);
        expect(p.reconnects, what).toBeGreaterThanOrEqual(scenario === 'storm' ? p.clients - p.recovery!.neverBack : 1);
        expect(p.replay.fromPublish.n, what).toBe(p.replay.fromOnline.n);
        if (p.system === 'app-ws' || p.system === 'app-sse') {
          expect({ what, exactlyOnce: p.exactlyOnce, lost: p.lost, duplicated: p.duplicated, outOfOrder: p.outOfOrder, unexpected: p.unexpected, complete: p.clientsComplete }).toEqual({
            what,
            exactlyOnce: p.expected,
            lost: 0,
            duplicated: 0,
            outOfOrder: 0,
            unexpected: 0,
            complete: p.clients,
          });
          // Something came by replay: the drops (or the restart) really cut the clients off while messages were published.
          expect(p.replay.fromPublish.n, what).toBeGreaterThan(0);
        }
      }
    }
    for (const p of results.churn ?? []) expect(p.drops, p.system).toBeGreaterThan(0);
    for (const p of results.storm ?? []) {
      expect(p.recovery, p.system).toBeDefined();
      expect(p.listeningMs, p.system).toBeGreaterThanOrEqual(p.exitMs);
      expect(p.peakRss, p.system).toBeGreaterThan(0);
      if (p.system === 'app-ws' || p.system === 'app-sse') expect(p.recovery!.neverCaughtUp, p.system).toBe(0);
    }
  });

  test('the report has the targets, every table and the charts', () => {
    for (const heading of ['## Targets', '## Fan-out', '## Idle connections', '## Payload sweep', '## Chat room', '## Whiteboard', '## Stored messages per second', '## Two instances: the Redis hop', '## Flaky networks', '### Churn:', '### Storm:']) expect(markdown).toContain(heading);
    expect(markdown).toContain('![fan-out](fanout.svg)');
    expect(markdown).toContain('![flaky networks](flaky.svg)');
    // 11 (with connection setup CPU) + 4 for churn and storm.
    expect((markdown.match(/\*\*(met|missed)\*\*/g) ?? []).length).toBe(15);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const system of SYSTEMS) expect(svg).toContain(`>${system}<`);
    const flakySvg = readFileSync(join(out, 'flaky.svg'), 'utf8');
    expect(flakySvg.startsWith('<svg')).toBe(true);
    for (const system of FLAKY_SYSTEMS) expect(flakySvg).toContain(`>${system}`);
  });
});
