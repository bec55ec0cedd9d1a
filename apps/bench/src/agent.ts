/**
 * Preloaded (`node --import`) into every server the benchmark starts, the app included, so each
 * is measured the same way from inside its own process without changing its code: on request over
 * the IPC channel it collects garbage (when started with --expose-gc) and reports its CPU time
 * (all threads, from the kernel via process.cpuUsage) and memory.
 */
import type { ServerStats, StatsRequest } from './protocol.js';

const gc = (globalThis as { gc?: () => void }).gc;

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
  };
  process.send?.(reply);
});
// The channel must not keep a server alive on its own, or one that is told to stop would hang.
process.channel?.unref();
