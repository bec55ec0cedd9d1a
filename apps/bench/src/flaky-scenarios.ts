/**
 * Flaky networks: `churn` (every client keeps losing its connection for a moment while a
 * publisher sends) and `storm` (the server restarts under every client at once, publishing goes
 * on through it). Each system gets a fresh server, a load process for its receivers and another
 * for its publisher (so publishing carries on whatever the receivers' process is busy with); the
 * two share the machine's monotonic clock, so publish-to-delivery needs no offset correction.
 */
import { LoadProcess, ServerProcess } from './processes.js';
import type { FlakyProgress, FlakyResult, FlakySystem, ServerStats, Target } from './protocol.js';
import type { Settings } from './scenarios.js';

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FlakySettings {
  churnClients: number;
  /** Messages per second from the one publisher. */
  churnRate: number;
  churnMs: number;
  /** Each client drops once per period (a random length in this range), for a random time in `churnOfflineMs`. */
  churnPeriodMs: [number, number];
  churnOfflineMs: [number, number];
  stormClients: number;
  stormRate: number;
  /** Publishing before the restart. */
  stormBeforeMs: number;
  /** How long after the restart the storm may take before the clients still out count as never back. */
  stormTimeoutMs: number;
  flakyPayloadBytes: number;
  /** How long receivers get, after publishing stops, to be back with every accepted message. */
  flakySettleMs: number;
}

export interface ChurnPoint extends FlakyResult {
  system: FlakySystem;
  rate: number;
  durationMs: number;
  publishFailures: number;
  /** Server CPU over the churn (publishing, drops and resumes), ms, and as a share of one core. */
  serverCpuMs: number;
  serverCpuShare: number;
  /** The server's event-loop delay over the churn, ms (absent from results written before it existed). */
  serverLoopDelay?: { p99: number; max: number };
}

export interface StormPoint extends FlakyResult {
  system: FlakySystem;
  rate: number;
  /** SIGTERM to the old process's exit, and to the new one answering, ms. */
  exitMs: number;
  listeningMs: number;
  publishFailures: number;
  /** The new process, from its start until every client was live again (or the timeout): CPU ms, peak RSS bytes. */
  serverCpuMs: number;
  peakRss: number;
  /** The new process's event-loop delay from its start to the end of the window, ms. */
  serverLoopDelay?: { p99: number; max: number };
  /** How long that window was, ms after SIGTERM. */
  stormMs: number;
  /** Clients back and live at the end of the window. */
  progress: FlakyProgress;
}

/** Socket.IO runs with connection-state recovery on in these scenarios. */
const serverEnv = (system: FlakySystem): NodeJS.ProcessEnv => (system === 'socketio' ? { SOCKETIO_RECOVERY: '1' } : {});

async function withFlaky<T>(system: FlakySystem, s: Settings, fn: (server: ServerProcess, receivers: LoadProcess, publisher: LoadProcess, target: Target) => Promise<T>): Promise<T> {
  const server = await ServerProcess.start(system, s.serverNodeArgs, serverEnv(system));
  const receivers = LoadProcess.start();
  const publisher = LoadProcess.start();
  try {
    return await fn(server, receivers, publisher, await server.prepare(s.appUsers));
  } finally {
    await publisher.stop();
    await receivers.stop();
    await server.stop();
  }
}

export async function churn(system: FlakySystem, s: Settings): Promise<ChurnPoint> {
  return withFlaky(system, s, async (server, receivers, publisher, target) => {
    await receivers.send({ cmd: 'flaky-open', system, target, count: s.churnClients, concurrency: 50 });
    await publisher.send({ cmd: 'pub-start', system, target, rate: s.churnRate, payloadBytes: s.flakyPayloadBytes });
    const before = (await server.stats(false, true)).cpuMicros;
    await receivers.send({ cmd: 'flaky-churn', durationMs: s.churnMs, periodMs: s.churnPeriodMs, offlineMs: s.churnOfflineMs });
    const end = await server.stats();
    const after = end.cpuMicros;
    const { published, publishFailures } = await publisher.send({ cmd: 'pub-stop', graceMs: s.flakySettleMs });
    const result = (await receivers.send({ cmd: 'flaky-settle', published: published!, timeoutMs: s.flakySettleMs })).flaky!;
    await receivers.send({ cmd: 'close' });
    const serverCpuMs = (after - before) / 1000;
    const point: ChurnPoint = { system, rate: s.churnRate, durationMs: s.churnMs, publishFailures: publishFailures ?? 0, serverCpuMs, serverCpuShare: serverCpuMs / s.churnMs, serverLoopDelay: loopOf(end), ...result };
    s.log(
      `churn ${system} x${point.clients} @${point.rate}/s: ${pct(point.exactlyOnce, point.expected)} exactly once, ${point.lost} lost, ${point.duplicated} duplicated, ${point.outOfOrder} out of order, replay p99 ${point.replay.fromPublish.p99.toFixed(0)} ms (${point.replay.fromOnline.p99.toFixed(0)} ms after back), ${point.drops} drops, ${point.reconnects} reconnects, ${point.failedAttempts} failed (${point.refusedByStatus} by status), server CPU ${(point.serverCpuShare * 100).toFixed(0)}%, reconnect p50/p99 ${point.connect.p50.toFixed(0)}/${point.connect.p99.toFixed(0)} ms, load loop delay p99 ${point.loadLoopDelay.p99.toFixed(0)} ms, server loop delay p99/max ${point.serverLoopDelay!.p99.toFixed(0)}/${point.serverLoopDelay!.max.toFixed(0)} ms`,
    );
    return point;
  });
}

export async function storm(system: FlakySystem, s: Settings): Promise<StormPoint> {
  return withFlaky(system, s, async (server, receivers, publisher, target) => {
    await receivers.send({ cmd: 'flaky-open', system, target, count: s.stormClients, concurrency: 50 });
    await publisher.send({ cmd: 'pub-start', system, target, rate: s.stormRate, payloadBytes: s.flakyPayloadBytes });
    await sleep(s.stormBeforeMs);

    const t0 = nowMicros();
    await receivers.send({ cmd: 'flaky-watch', t0 });
    // Samples of the new process's CPU and memory, from the moment it exists.
    let peakRss = 0;
    let lastCpu = 0;
    let sampling = false;
    const sampler = setInterval(() => {
      if (!sampling) return;
      server.stats().then(
        (st) => {
          peakRss = Math.max(peakRss, st.rss);
          lastCpu = Math.max(lastCpu, st.cpuMicros);
        },
        () => {},
      );
    }, 100);
    let progress: FlakyProgress;
    let stormMs: number;
    let exitMs: number;
    let listeningMs: number;
    let serverLoopDelay: { p99: number; max: number } | undefined;
    try {
      const restarted = await server.restart(() => (sampling = true));
      exitMs = (restarted.exitedMicros - t0) / 1000;
      listeningMs = (restarted.listeningMicros - t0) / 1000;
      for (;;) {
        progress = (await receivers.send({ cmd: 'flaky-progress' })).progress!;
        stormMs = (nowMicros() - t0) / 1000;
        if (progress.live >= progress.clients || stormMs > s.stormTimeoutMs) break;
        await sleep(100);
      }
      const st = await server.stats();
      peakRss = Math.max(peakRss, st.rss);
      lastCpu = Math.max(lastCpu, st.cpuMicros);
      serverLoopDelay = loopOf(st);
    } finally {
      clearInterval(sampler);
    }
    await sleep(1000); // publishing goes on a moment after everyone is back
    const { published, publishFailures } = await publisher.send({ cmd: 'pub-stop', graceMs: s.flakySettleMs });
    const result = (await receivers.send({ cmd: 'flaky-settle', published: published!, timeoutMs: s.flakySettleMs, t0 })).flaky!;
    await receivers.send({ cmd: 'close' });
    const point: StormPoint = { system, rate: s.stormRate, exitMs, listeningMs, publishFailures: publishFailures ?? 0, serverCpuMs: lastCpu / 1000, peakRss, stormMs, progress, serverLoopDelay, ...result };
    const r = point.recovery!;
    s.log(
      `storm ${system} x${point.clients}: down ${exitMs.toFixed(0)}-${listeningMs.toFixed(0)} ms, caught up 50% ${fmt(r.caughtUp.p50)} 99% ${fmt(r.caughtUp.p99)} 100% ${fmt(r.caughtUp.p100)} ms, ${point.lost} lost, ${point.duplicated} duplicated, ${point.failedAttempts} failed attempts`,
    );
    return point;
  });
}

const loopOf = (st: ServerStats) => ({ p99: st.loopDelayP99Ms ?? NaN, max: st.loopDelayMaxMs ?? NaN });
const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(2)}%` : 'n/a');
const fmt = (v: number | null) => (v === null ? 'never' : v.toFixed(0));
