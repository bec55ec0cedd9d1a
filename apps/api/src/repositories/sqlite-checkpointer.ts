import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints the SQLite WAL from a worker thread, so the event loop never waits for one.
 *
 * better-sqlite3 is synchronous: with SQLite's automatic checkpoint (every 1,000 WAL pages), the
 * commit that crosses the threshold copies the WAL into the database file and syncs both on the
 * event loop, 5-30 ms on this machine class, once every few thousand messages, and every socket
 * waits (a p99.9 of 6.6-8.4 ms for a commit whose median is 20 µs, `synchronous=NORMAL`; a
 * smaller threshold only syncs more often). So the app's connection turns automatic checkpoints
 * off, and a second connection in a worker runs a PASSIVE checkpoint every `intervalMs`: it
 * copies what no reader still needs without blocking the writer
 * (https://www.sqlite.org/wal.html#ckpt).
 *
 * A PASSIVE checkpoint racing a busy writer never catches up with the WAL's end, and the WAL
 * only starts over from its beginning when a write finds it wholly copied. So once the WAL
 * passes `restartFrames`, the checkpointer asks the group-commit writer to hold its next batch
 * (writes queue; the event loop does not wait) while the worker copies the few frames still
 * missing, about 1-2 ms with its syncs; the next commit then restarts the WAL.
 *
 * Durability is unchanged: the same `synchronous` level syncs the WAL before each checkpoint,
 * on another thread. If the worker stops, automatic checkpoints come back on the app's connection.
 */
export class SqliteCheckpointer {
  private worker?: Worker;
  private stopping = false;
  /** Ends the writer's pause when the worker's catch-up pass answers. */
  private caughtUp?: () => void;
  /** Catch-up passes asked for (for tests and the log). */
  catchUps = 0;
  /** Times the WAL was seen to start over (a pass found fewer frames than the one before). */
  restarts = 0;
  private lastFrames = 0;
  private firstPass?: () => void;
  /** Resolves once the worker has made its first pass (tests). */
  readonly ready = new Promise<void>((resolve) => (this.firstPass = resolve));

  constructor(
    private readonly file: string,
    private readonly synchronous: string,
    private readonly intervalMs: number,
    private readonly warn: (message: string) => void,
    /** Holds the group-commit writer's next batch until `work` settles. */
    private readonly pauseWrites: (work: Promise<unknown>) => void,
    private readonly restartFrames = 1000,
  ) {}

  start(db: BetterSqlite3.Database): void {
    db.pragma('wal_autocheckpoint = 0');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    // Plain JavaScript, evaluated: the same in the built server and under the test runner.
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const Database = require(workerData.driver);
       const db = new Database(workerData.file, { timeout: 5000 });
       db.pragma('synchronous = ' + workerData.synchronous);
       const pass = (catchUp) => {
         try {
           const [result] = db.pragma('wal_checkpoint(PASSIVE)');
           parentPort.postMessage({ frames: result.log, catchUp });
         } catch (err) {
           if (err && err.code === 'SQLITE_BUSY') parentPort.postMessage({ frames: -1, catchUp });
           else { clearInterval(timer); throw err; }
         }
       };
       const timer = setInterval(() => pass(false), workerData.intervalMs);
       parentPort.on('message', (message) => {
         if (message === 'catch-up') return pass(true);
         clearInterval(timer); db.close(); parentPort.close();
       });`,
      { eval: true, workerData: { driver, file: this.file, synchronous: this.synchronous, intervalMs: this.intervalMs } },
    );
    worker.unref(); // never what keeps the process alive
    const fallBack = (why: string) => {
      if (this.stopping || this.worker !== worker) return;
      this.worker = undefined;
      this.caughtUp?.();
      this.warn(`WAL checkpoint worker stopped (${why}); checkpoints are automatic again`);
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    };
    worker.on('message', (report: { frames: number; catchUp: boolean }) => {
      this.firstPass?.();
      this.firstPass = undefined;
      if (report.frames >= 0) {
        if (report.frames < this.lastFrames) this.restarts++;
        this.lastFrames = report.frames;
      }
      if (report.catchUp) this.caughtUp?.();
      else if (report.frames >= this.restartFrames && !this.caughtUp) {
        this.catchUps++;
        // Released by the worker's answer, or after a second whatever happens.
        const done = new Promise<void>((resolve) => {
          this.caughtUp = resolve;
          setTimeout(resolve, 1000).unref();
        }).finally(() => (this.caughtUp = undefined));
        this.pauseWrites(done);
        worker.postMessage('catch-up');
      }
    });
    worker.on('error', (err) => fallBack(err.message));
    worker.on('exit', (code) => fallBack(`exit ${code}`));
    this.worker = worker;
  }

  /** Stops the worker (its connection closes); the app's connection checkpoints as it closes. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    this.worker = undefined;
    this.caughtUp?.();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
    await worker.terminate();
  }

  /** Whether checkpoints run in the worker now (for tests). */
  get running(): boolean {
    return this.worker !== undefined;
  }
}
