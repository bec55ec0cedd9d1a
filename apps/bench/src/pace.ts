/** Sending at a set rate from one process: the load generator's clock for every scenario that publishes. */

export const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Calls `send(n)` for n = 0, 1, ... total - 1 at `rate` a second from now, resolving after the
 * last. A timer that fires late sends everything that is due at once (the schedule is kept, not
 * the spacing), so the offered rate is the one asked for over the whole run.
 */
export function pace(rate: number, total: number, send: (n: number) => void): Promise<void> {
  const start = nowMicros();
  let sent = 0;
  return new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((nowMicros() - start) / 1e6) * rate) + 1);
      while (sent < due) send(sent++);
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
}

/**
 * Waits until `done()` holds or `graceMs` has passed, polling every 5 ms; then 20 ms more, so
 * stragglers that are not ours (acks, pings) settle out of the byte count of the next step.
 */
export async function drain(done: () => boolean, graceMs: number): Promise<void> {
  const deadline = nowMicros() + graceMs * 1000;
  while (!done() && nowMicros() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
}
