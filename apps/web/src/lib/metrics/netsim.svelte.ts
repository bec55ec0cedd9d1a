import { api } from '../api';
import { preciseNow } from '../clock';
import type { MeterSnapshot, Transport } from './meter.svelte';

/** Counters of one meter when a drop was asked for, to show what the drop did. */
interface Baseline {
  reconnects: number;
  gaps: number;
  duplicates: number;
  replayed: number;
}

export interface DropRecord {
  /** Local clock when the drop was asked for. */
  at: number;
  /** How many connections of each kind the server cut. */
  cut: { ws: number; sse: number };
  before: Record<Transport, Baseline>;
}

/** How one transport came back from the latest drop. */
export interface DropRecovery {
  recovered: boolean;
  recoverMs: number | null;
  gaps: number;
  duplicates: number;
  replayed: number;
}

function baseline(snapshot: MeterSnapshot): Baseline {
  const { reconnects, gaps, duplicates, replayed } = snapshot;
  return { reconnects, gaps, duplicates, replayed };
}

/**
 * Network simulation on the user's own connections (docs/protocol.md, "Network simulation"):
 * drop them all, add delay and jitter, or pause deliveries. Remembers the latest drop so the
 * overlay can show both transports recover.
 */
export class NetSim {
  #busy = $state<'drop' | 'impair' | 'pause' | null>(null);
  #error = $state<string | null>(null);
  #notice = $state<string | null>(null);
  #lastDrop = $state.raw<DropRecord | null>(null);
  #impair = $state.raw<{ delayMs: number; jitterMs: number }>({ delayMs: 0, jitterMs: 0 });
  #pausedUntil = $state<number | null>(null);

  get busy(): 'drop' | 'impair' | 'pause' | null {
    return this.#busy;
  }

  get error(): string | null {
    return this.#error;
  }

  get notice(): string | null {
    return this.#notice;
  }

  get lastDrop(): DropRecord | null {
    return this.#lastDrop;
  }

  /** The impairment last applied from here (the server does not say). */
  get impairment(): { delayMs: number; jitterMs: number } {
    return this.#impair;
  }

  /** Local clock (epoch ms) until which deliveries are held, after a pause from here. */
  get pausedUntil(): number | null {
    return this.#pausedUntil;
  }

  /** `snapshots`: the meters now, to count from. */
  async drop(snapshots: Record<Transport, MeterSnapshot>): Promise<void> {
    const before = { ws: baseline(snapshots.ws), sse: baseline(snapshots.sse) };
    await this.#act('drop', async () => {
      const at = preciseNow();
      const cut = await api.netsimDrop();
      this.#lastDrop = { at, cut: { ws: cut?.ws ?? 0, sse: cut?.sse ?? 0 }, before };
      this.#notice = `Cut ${cut?.ws ?? 0} WebSocket(s) and ${cut?.sse ?? 0} stream(s)`;
    });
  }

  async impair(delayMs: number, jitterMs: number): Promise<void> {
    await this.#act('impair', async () => {
      await api.netsimImpair(delayMs, jitterMs);
      this.#impair = { delayMs, jitterMs };
      this.#notice = delayMs === 0 && jitterMs === 0 ? 'Impairment off' : `Every delivery now waits ${delayMs} ms + 0–${jitterMs} ms`;
    });
  }

  async pause(seconds: number): Promise<void> {
    await this.#act('pause', async () => {
      await api.netsimPause(seconds);
      this.#pausedUntil = Date.now() + seconds * 1000;
      this.#notice = `Deliveries held for ${seconds} s`;
    });
  }

  /** How a transport came back from the latest drop, judged from its meter now. */
  recovery(transport: Transport, now: MeterSnapshot): DropRecovery | null {
    const drop = this.#lastDrop;
    if (!drop || drop.cut[transport] === 0) return null;
    const before = drop.before[transport];
    const recovered = now.reconnects > before.reconnects && now.recoveredAt !== null && now.recoveredAt >= drop.at;
    return {
      recovered,
      recoverMs: recovered ? now.recoverMs : null,
      gaps: now.gaps - before.gaps,
      duplicates: now.duplicates - before.duplicates,
      replayed: now.replayed - before.replayed,
    };
  }

  async #act(kind: 'drop' | 'impair' | 'pause', run: () => Promise<void>): Promise<void> {
    if (this.#busy) return;
    this.#busy = kind;
    this.#error = null;
    this.#notice = null;
    try {
      await run();
    } catch (err) {
      this.#error = err instanceof Error ? err.message : String(err);
    } finally {
      this.#busy = null;
    }
  }
}
