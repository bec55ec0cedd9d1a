import { describe, expect, it } from 'vitest';
import { GroupCommitWriter } from './group-commit.js';
import { EngineBusy, type BatchUnit, type Settled, type SqlEngine } from './sql-engine.js';
import type { Unit } from './sql.js';

/** An engine that records each batch and runs units without a database (each returns its value). */
class FakeEngine implements SqlEngine {
  readonly provider = 'sqlite';
  readonly batches: number[] = [];
  busyTimes = 0;
  failWhole: unknown = null;

  read<T>(): Promise<T> {
    throw new Error('not used');
  }

  batch(units: readonly BatchUnit[]): Promise<Settled<unknown>[]> {
    if (this.busyTimes > 0) {
      this.busyTimes--;
      return Promise.reject(new EngineBusy());
    }
    this.batches.push(units.length);
    if (this.failWhole) {
      for (const unit of units) unit.failed?.(this.failWhole);
      return Promise.resolve(units.map(() => ({ ok: false, error: this.failWhole }) as const));
    }
    return Promise.resolve(
      units.map(({ make, failed }) => {
        try {
          const step = make().next();
          return step.done ? { ok: true, value: step.value } : { ok: false, error: new Error('unit yielded a query') };
        } catch (error) {
          failed?.(error);
          return { ok: false, error };
        }
      }),
    );
  }
}

function* value<T>(v: T): Unit<T> {
  return v;
}

function* failing(): Unit<never> {
  throw new Error('bad row');
}

describe('GroupCommitWriter', () => {
  it('starts no batch while paused, and takes what queued meanwhile in the next one, in order', async () => {
    const engine = new FakeEngine();
    const writer = new GroupCommitWriter(engine, 100);
    let release!: () => void;
    writer.pauseWhile(new Promise<void>((resolve) => (release = resolve)));
    const results = [writer.write(() => value(1)), writer.write(() => value(2))];
    await new Promise((r) => setTimeout(r, 20));
    expect(engine.batches).toEqual([]);
    results.push(writer.write(() => value(3)));
    release();
    expect(await Promise.all(results)).toEqual([1, 2, 3]);
    expect(engine.batches).toEqual([3]);
    // A pause whose work fails ends all the same.
    writer.pauseWhile(Promise.reject(new Error('checkpoint failed')));
    expect(await writer.write(() => value(4))).toBe(4);
  });

  it('puts writes queued in one turn into one transaction and settles them in queue order', async () => {
    const engine = new FakeEngine();
    const writer = new GroupCommitWriter(engine, 100);
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => writer.write(() => value(n)).then((v) => order.push(v))));
    expect(engine.batches).toEqual([4]);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(writer.pending).toBe(0);
  });

  it('takes at most maxBatch units per transaction, the rest in the next one', async () => {
    const engine = new FakeEngine();
    const writer = new GroupCommitWriter(engine, 3);
    const values = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => writer.write(() => value(n))));
    expect(values).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(engine.batches).toEqual([3, 3, 1]);
  });

  it('rejects only the unit that failed; the others of its batch resolve', async () => {
    const writer = new GroupCommitWriter(new FakeEngine(), 100);
    const settled = await Promise.allSettled([writer.write(() => value('a')), writer.write(failing), writer.write(() => value('c'))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('rejects every unit of a batch whose commit failed, with that error', async () => {
    const engine = new FakeEngine();
    engine.failWhole = new Error('database unavailable');
    const writer = new GroupCommitWriter(engine, 100);
    const settled = await Promise.allSettled([writer.write(() => value(1)), writer.write(() => value(2))]);
    expect(settled).toEqual([
      { status: 'rejected', reason: engine.failWhole },
      { status: 'rejected', reason: engine.failWhole },
    ]);
  });

  it('retries a batch, same units in the same order, while the connection is inside someone else’s transaction', async () => {
    const engine = new FakeEngine();
    engine.busyTimes = 3;
    const writer = new GroupCommitWriter(engine, 100);
    expect(await Promise.all([writer.write(() => value('x')), writer.write(() => value('y'))])).toEqual(['x', 'y']);
    expect(engine.batches).toEqual([2]);
  });

  it('tells a failed unit’s `failed` before any later unit runs, even one in the next batch', async () => {
    const writer = new GroupCommitWriter(new FakeEngine(), 1);
    const seen: string[] = [];
    const second = function* () {
      seen.push('second runs');
      return 2;
    };
    const settled = await Promise.allSettled([writer.write(failing, () => seen.push('first failed')), writer.write(second, () => seen.push('second failed'))]);
    expect(seen).toEqual(['first failed', 'second runs']);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled']);
  });

  it('tells every unit of a failed commit, in order', async () => {
    const engine = new FakeEngine();
    engine.failWhole = new Error('disk I/O error');
    const writer = new GroupCommitWriter(engine, 100);
    const told: number[] = [];
    await Promise.allSettled([1, 2, 3].map((n) => writer.write(() => value(n), () => told.push(n))));
    expect(told).toEqual([1, 2, 3]);
  });

  it('drained() waits for writes in flight', async () => {
    const writer = new GroupCommitWriter(new FakeEngine(), 100);
    let done = false;
    void writer.write(() => value(1)).then(() => (done = true));
    await writer.drained();
    expect(done).toBe(true);
  });
});
