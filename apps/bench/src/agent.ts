/**
 * Preloaded (`node --import`) into every server the benchmark starts, the app included, so each
 * is measured the same way from inside its own process without changing its code: on request over
 * the IPC channel it collects garbage (when started with --expose-gc) and reports its CPU time
 * (all threads, from the kernel via process.cpuUsage) and memory.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ServerStats, StatsRequest } from './protocol.js';

const gc = (globalThis as { gc?: () => void }).gc;
/** The server's own event-loop delay (a stall, a blocking write, a long GC), since the last reset. */
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

process.on('message', (message: StatsRequest) => {
  if (message?.cmd !== 'stats') return;
  if (message.gc && gc) {
    gc();
    gc();
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const reply: ServerStats = {
    id: message.id,
    cpuMicros: cpu.user + cpu.system,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
  };
  if (message.resetLoop) loop.reset();
  process.send?.(reply);
});
// The channel must not keep a server alive on its own, or one that is told to stop would hang.
process.channel?.unref();
