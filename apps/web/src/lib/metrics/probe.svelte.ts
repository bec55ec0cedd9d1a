import { PROBE_LIMITS as WIRE_LIMITS, type ProbeMessage, type ProbeResult as ProbeAnswer, type ProbeTransportResult as ProbeServerSide } from '@rt/protocol';
import { api, ApiError } from '../api';
import type { Transport } from './meter.svelte';
import { percentilesOf } from './stats';

/** Where a binding hands each `probe` message it received, with its latency (null without an offset). */
export type ProbeSink = (message: ProbeMessage, at: number, latencyMs: number | null) => void;

/** The inputs of a run; limits as the server enforces them (docs/protocol.md, "Head-to-head probe"). */
export interface ProbeParams {
  sizeBytes: number;
  ratePerSecond: number;
  durationMs: number;
}

/** The server's limits (@rt/protocol), the duration in seconds as the panel asks for it. */
export const PROBE_LIMITS = {
  sizeBytes: WIRE_LIMITS.sizeBytes,
  ratePerSecond: WIRE_LIMITS.ratePerSecond,
  durationSeconds: { min: WIRE_LIMITS.durationMs.min / 1000, max: WIRE_LIMITS.durationMs.max / 1000, default: WIRE_LIMITS.durationMs.default / 1000 },
} as const;

export interface ProbeSample {
  transport: Transport;
  n: number;
  /** Server clock, epoch ms. */
  sentAt: number;
  /** Our clock, epoch ms. */
  receivedAt: number;
  /** receivedAt + offset − sentAt; null if the transport had no clock offset yet. */
  latencyMs: number | null;
}

export interface ProbeTransportResult {
  /** As the server counted them. */
  sent: number;
  /** Distinct `n` below `count` received here. */
  delivered: number;
  lost: number;
  duplicates: number;
  /** Latency samples (delivered with a clock offset): what the percentiles are over. */
  samples: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  wireBytesPerMessage: number | null;
  payloadBytesPerMessage: number | null;
  cpuMsPer1000: number | null;
}

export interface ProbeResult {
  run: string;
  params: ProbeParams;
  /** ISO-8601, our clock. */
  startedAt: string;
  count: number;
  ws: ProbeTransportResult;
  sse: ProbeTransportResult;
  /** Every probe message received for the run, both transports, in arrival order. */
  samples: ProbeSample[];
  server: ProbeAnswer;
}

/** Received so far during a run, per transport. */
export interface ProbeProgress {
  ws: number;
  sse: number;
}

/** The results table, as shown and as exported (CSV): one row per figure, a column per transport. */
export const PROBE_ROWS: readonly { key: string; label: string; value: (r: ProbeTransportResult) => string }[] = [
  { key: 'delivered', label: 'Delivered', value: (r) => `${r.delivered} / ${r.sent}` },
  { key: 'lost', label: 'Lost', value: (r) => String(r.lost) },
  { key: 'duplicates', label: 'Duplicates', value: (r) => String(r.duplicates) },
  { key: 'samples', label: 'Latency samples', value: (r) => String(r.samples) },
  { key: 'p50', label: 'Latency p50 (ms)', value: (r) => fixed(r.p50, 2) },
  { key: 'p95', label: 'Latency p95 (ms)', value: (r) => fixed(r.p95, 2) },
  { key: 'p99', label: 'Latency p99 (ms)', value: (r) => fixed(r.p99, 2) },
  { key: 'wire-bytes', label: 'Wire B/msg (timed phase, framing incl.)', value: (r) => fixed(r.wireBytesPerMessage, 1) },
  { key: 'payload-bytes', label: 'Payload B/msg', value: (r) => fixed(r.payloadBytesPerMessage, 1) },
  { key: 'cpu', label: 'Server CPU ms / 1,000 msgs', value: (r) => fixed(r.cpuMsPer1000, 2) },
];

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '' : value.toFixed(digits);
}

/** After the answer, wait this long (plus any simulated delay) for messages still on their way. */
const GRACE_MS = 750;

/**
 * One head-to-head probe at a time (`POST /api/probe`): while it runs, the bindings hand it every
 * `probe` message each transport receives; when the server answers, it waits a little for
 * stragglers, then builds the results from what came in and what the server measured.
 */
export class ProbeRunner {
  #running = $state(false);
  #result = $state.raw<ProbeResult | null>(null);
  #error = $state<string | null>(null);

  /** Samples by run id while a run is on (its id is only known from the answer). */
  #collecting: Map<string, ProbeSample[]> | null = null;
  readonly #progress: ProbeProgress = { ws: 0, sse: 0 };

  get running(): boolean {
    return this.#running;
  }

  get result(): ProbeResult | null {
    return this.#result;
  }

  get error(): string | null {
    return this.#error;
  }

  /** Plain counts (no reactivity): read by the overlay's render timer. */
  progress(): ProbeProgress {
    return { ...this.#progress };
  }

  /** The sink for one transport's binding. */
  sink(transport: Transport): ProbeSink {
    return (message, at, latencyMs) => {
      const collecting = this.#collecting;
      if (!collecting) return;
      let samples = collecting.get(message.run);
      if (!samples) collecting.set(message.run, (samples = []));
      samples.push({ transport, n: message.n, sentAt: message.sentAt, receivedAt: at, latencyMs });
      this.#progress[transport] += 1;
    };
  }

  /** `extraGraceMs`: how much later than usual stragglers may come (a simulated delay). */
  async run(params: ProbeParams, ids: { ws: string; sse: string }, extraGraceMs = 0): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#error = null;
    this.#collecting = new Map();
    this.#progress.ws = 0;
    this.#progress.sse = 0;
    const startedAt = new Date().toISOString();
    try {
      const answer = await api.probe({ ...params, wsConnectionId: ids.ws, sseConnectionId: ids.sse });
      await new Promise((resolve) => setTimeout(resolve, GRACE_MS + Math.max(0, extraGraceMs)));
      const samples = this.#collecting.get(answer.run) ?? [];
      this.#result = {
        run: answer.run,
        params,
        startedAt,
        count: answer.count,
        ws: summarize(samples, 'ws', answer.count, answer.ws),
        sse: summarize(samples, 'sse', answer.count, answer.sse),
        samples,
        server: answer,
      };
    } catch (err) {
      this.#error =
        err instanceof ApiError && err.status === 409
          ? 'Another probe of yours is running (one at a time)'
          : err instanceof Error
            ? err.message
            : String(err);
    } finally {
      this.#collecting = null;
      this.#running = false;
    }
  }
}

function summarize(
  samples: readonly ProbeSample[],
  transport: Transport,
  count: number,
  server: ProbeServerSide | undefined,
): ProbeTransportResult {
  const seen = new Set<number>();
  const latencies: number[] = [];
  let duplicates = 0;
  for (const sample of samples) {
    // Messages past the timed phase (the CPU phase) are not part of the comparison.
    if (sample.transport !== transport || sample.n < 0 || sample.n >= count) continue;
    if (seen.has(sample.n)) {
      duplicates += 1;
      continue;
    }
    seen.add(sample.n);
    if (sample.latencyMs !== null) latencies.push(sample.latencyMs);
  }
  const sent = typeof server?.sent === 'number' ? server.sent : count;
  const { p50, p95, p99 } = percentilesOf(latencies);
  return {
    sent,
    delivered: seen.size,
    lost: Math.max(0, sent - seen.size),
    duplicates,
    samples: latencies.length,
    p50,
    p95,
    p99,
    wireBytesPerMessage: numberOrNull(server?.wireBytesPerMessage),
    payloadBytesPerMessage: numberOrNull(server?.payloadBytesPerMessage),
    cpuMsPer1000: numberOrNull(server?.cpuMsPer1000),
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
