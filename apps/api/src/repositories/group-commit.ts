import { EngineBusy, type BatchUnit, type SqlEngine, type UnitFactory } from './sql-engine.js';
import type { Unit } from './sql.js';

interface Pending extends BatchUnit {
  make: UnitFactory;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit: every append in the process goes through one queue. While a transaction runs,
 * new units wait; the next transaction takes all of them (up to `maxBatch`, WRITE_BATCH_MAX: a
 * bound on how long one commit holds the write lock), in arrival
 * order. So a burst costs one commit instead of one each, and a log's sequence numbers are still
 * handed out one by one, in commit order, under the log owner's row lock.
 *
 * Callers' promises settle after the commit, in queue order, so acknowledgements and publishes
 * follow sequence order. A unit that fails rejects alone; a commit that fails rejects its batch.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private running = false;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** While set, no new batch starts (see {@link pauseWhile}). */
  private paused?: Promise<unknown>;

  constructor(
    private readonly engine: SqlEngine,
    private readonly maxBatch: number,
  ) {}

  /** Units accepted and not yet settled. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Runs the unit that `make` creates in the next batch; `make` may be called again if the batch
   * is retried. `failed` is told synchronously if the unit fails, before any later unit runs
   * (see {@link BatchUnit.failed}); the promise rejects later, after the batch.
   */
  write<T>(make: () => Unit<T>, failed?: (error: unknown) => void): Promise<T> {
    this.inFlight++;
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ make, failed, resolve, reject });
      this.kick();
    });
  }

  /**
   * Starts no new batch until `work` settles: units keep queueing (the event loop does not wait)
   * and go in the next batch. Called between batches (no transaction of ours is open), so `work`
   * sees the database quiet: SqliteCheckpointer's catch-up pass.
   */
  pauseWhile(work: Promise<unknown>): void {
    const paused = work.then(
      () => undefined,
      () => undefined,
    );
    this.paused = paused;
    void paused.then(() => {
      if (this.paused === paused) this.paused = undefined;
    });
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private kick(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // After the current I/O phase: every frame and request read in it joins this batch.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        if (this.paused) {
          await this.paused;
          continue;
        }
        const batch = this.queue.splice(0, this.maxBatch);
        let settled;
        try {
          settled = await this.engine.batch(batch);
        } catch (error) {
          if (error instanceof EngineBusy) {
            // Someone else's transaction is open on the connection: try again shortly, same order.
            this.queue.unshift(...batch);
            await new Promise((resolve) => setTimeout(resolve, 1));
            continue;
          }
          settled = batch.map((p) => {
            p.failed?.(error);
            return { ok: false, error } as const;
          });
        }
        for (let i = 0; i < batch.length; i++) {
          const outcome = settled[i]!;
          if (outcome.ok) batch[i]!.resolve(outcome.value);
          else batch[i]!.reject(outcome.error);
        }
        this.inFlight -= batch.length;
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.kick();
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}
