import type { MeterSnapshot, Transport } from './meter.svelte';

/** The metric names of the overlay's cells (`data-testid="m-<transport>-<metric>"`). */
export type MetricName =
  | 'state'
  | 'offset'
  | 'latency-p50'
  | 'latency-p95'
  | 'latency-p99'
  | 'rate'
  | 'payload-bytes'
  | 'wire-bytes'
  | 'reconnects'
  | 'recover-ms'
  | 'replayed'
  | 'gaps'
  | 'duplicates';

/**
 * How a row says which transport is ahead:
 * - `less-ms`: the lower value wins, by the difference in ms ("WS −3.1 ms");
 * - `less-count`: the lower count wins, by the difference ("SSE −2");
 * - `less-ratio`: the lower value wins, by how many times the other is ("WS 1.2×");
 * - `more-ratio`: the higher value is ahead, by how many times ("SSE 1.4×");
 * - `tighter`: the offset whose uncertainty (±rtt/2) is smaller;
 * - `none`: no judgement (a state; replayed counts are neither good nor bad).
 */
type Compare = 'less-ms' | 'less-count' | 'less-ratio' | 'more-ratio' | 'tighter' | 'none';

export interface MetricRow {
  metric: MetricName;
  label: string;
  /** The number compared (and shown, unless `text` says otherwise). */
  value: (s: MeterSnapshot) => number | null;
  /** Text for non-numeric cells. */
  text?: (s: MeterSnapshot) => string;
  digits: number;
  compare: Compare;
  /** Not measured in a tab that does not hold the SSE stream. */
  leaderOnly: boolean;
}

export const METRIC_ROWS: readonly MetricRow[] = [
  { metric: 'state', label: 'State', value: () => null, text: (s) => s.state, digits: 0, compare: 'none', leaderOnly: false },
  { metric: 'offset', label: 'Clock offset (ms)', value: (s) => s.offsetMs, digits: 2, compare: 'tighter', leaderOnly: true },
  { metric: 'latency-p50', label: 'Latency p50 (ms)', value: (s) => s.latency.p50, digits: 1, compare: 'less-ms', leaderOnly: true },
  { metric: 'latency-p95', label: 'Latency p95 (ms)', value: (s) => s.latency.p95, digits: 1, compare: 'less-ms', leaderOnly: true },
  { metric: 'latency-p99', label: 'Latency p99 (ms)', value: (s) => s.latency.p99, digits: 1, compare: 'less-ms', leaderOnly: true },
  { metric: 'rate', label: 'Messages/s (5 s)', value: (s) => s.rate, digits: 1, compare: 'more-ratio', leaderOnly: true },
  { metric: 'payload-bytes', label: 'Payload B/msg', value: (s) => s.payloadBytes, digits: 1, compare: 'less-ratio', leaderOnly: true },
  { metric: 'wire-bytes', label: 'Wire B/msg', value: (s) => s.wireBytes, digits: 1, compare: 'less-ratio', leaderOnly: true },
  { metric: 'reconnects', label: 'Reconnects', value: (s) => s.reconnects, digits: 0, compare: 'less-count', leaderOnly: true },
  { metric: 'recover-ms', label: 'Time to recover (ms)', value: (s) => s.recoverMs, digits: 0, compare: 'less-ms', leaderOnly: true },
  { metric: 'replayed', label: 'Events replayed', value: (s) => s.replayed, digits: 0, compare: 'none', leaderOnly: true },
  { metric: 'gaps', label: 'Gaps', value: (s) => s.gaps, digits: 0, compare: 'less-count', leaderOnly: true },
  { metric: 'duplicates', label: 'Duplicates', value: (s) => s.duplicates, digits: 0, compare: 'less-count', leaderOnly: true },
];

const NAMES: Record<Transport, string> = { ws: 'WS', sse: 'SSE' };

export function formatNumber(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** The text of one value cell: the plain number (or text), "—" while unknown. */
export function cellText(row: MetricRow, s: MeterSnapshot, shared: boolean): string {
  if (row.text) return row.text(s);
  if (shared && s.transport === 'sse' && row.leaderOnly) return row.metric === 'offset' ? (s.offsetNote ?? 'n/a') : 'n/a';
  const value = row.value(s);
  if (value === null && row.metric === 'offset' && s.offsetNote) return s.offsetNote;
  return formatNumber(value, row.digits);
}

/** Which transport is ahead on a row, and by how much: "WS −3.1 ms", "SSE 1.4×", "=" or "—". */
export function aheadText(row: MetricRow, sse: MeterSnapshot, ws: MeterSnapshot, shared: boolean): string {
  if (row.compare === 'none' || (shared && row.leaderOnly)) return '—';
  const a = row.compare === 'tighter' ? sse.uncertaintyMs : row.value(sse);
  const b = row.compare === 'tighter' ? ws.uncertaintyMs : row.value(ws);
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return '—';
  if (a === b) return '=';
  const more = row.compare === 'more-ratio';
  const [winner, best, other] = (more ? a > b : a < b) ? (['sse', a, b] as const) : (['ws', b, a] as const);
  const name = NAMES[winner];
  switch (row.compare) {
    case 'less-ms':
      return `${name} −${(other - best).toFixed(row.digits || 0)} ms`;
    case 'tighter':
      return `${name} ±${best.toFixed(2)} vs ±${other.toFixed(2)} ms`;
    case 'less-count':
      return `${name} −${other - best}`;
    case 'less-ratio':
      return best > 0 ? `${name} ${(other / best).toFixed(2)}×` : `${name} (0)`;
    case 'more-ratio':
      return other > 0 ? `${name} ${(best / other).toFixed(2)}×` : `${name} only`;
  }
}
