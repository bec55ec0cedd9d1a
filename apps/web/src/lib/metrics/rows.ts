import { formatBytes, formatDuration } from '../format';
import { RESTART_JITTER_MS, RESTART_RETRY_MS, SSE_DEFAULT_RETRY_MS, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS } from '@rt/protocol';
import type { MeterSnapshot, Transport } from './meter.svelte';
import { MIN_SAMPLES } from './stats';

/** The metric names of the overlay's cells (`data-testid="m-<transport>-<metric>"`). */
export type MetricName =
  | 'state'
  | 'offset'
  | 'samples'
  | 'latency-p50'
  | 'latency-p95'
  | 'latency-p99'
  | 'rate'
  | 'payload-bytes'
  | 'wire-bytes'
  | 'control-bytes'
  | 'reconnects'
  | 'recover-ms'
  | 'replayed'
  | 'gaps'
  | 'duplicates';

/**
 * How a row says which transport is ahead:
 * - `less-ms`: the lower value wins, by the difference in ms ("WS −3.1 ms"); a difference within
 *   the two clock offsets' uncertainty is no difference ("≈");
 * - `less-count`: the lower count wins, by the difference ("SSE −2");
 * - `less-ratio`: the lower value wins, by how many times the other is ("WS 1.2×");
 * - `more-ratio`: the higher value is ahead, by how many times ("SSE 1.4×");
 * - `tighter`: the offset whose uncertainty (±rtt/2) is smaller;
 * - `none`: no judgement (a state, a count of samples, replayed counts).
 */
type Compare = 'less-ms' | 'less-count' | 'less-ratio' | 'more-ratio' | 'tighter' | 'none';

export interface MetricRow {
  metric: MetricName;
  label: string;
  /** What the figure is over and what it includes (the label's tooltip). */
  about: string;
  /** The number compared. */
  value: (s: MeterSnapshot) => number | null;
  /** The text of the cell. */
  text: (s: MeterSnapshot) => string;
  /** A second, smaller line: what the figure is counted over ("92 msgs"). */
  note?: (s: MeterSnapshot) => string | null;
  digits: number;
  compare: Compare;
  /** Not measured in a tab that does not hold the SSE stream. */
  leaderOnly: boolean;
}

const ms = (digits: number) => (v: number | null) => (v === null || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)} ms`);

function percentileText(s: MeterSnapshot, p: 50 | 95 | 99): string {
  const value = s.latency[`p${p}`];
  if (value !== null) return formatDuration(value);
  const need = MIN_SAMPLES[`p${p}`];
  return s.latency.count === 0 ? '—' : `— (${s.latency.count} of ${need})`;
}

function windowText(s: MeterSnapshot): string {
  const { count, probeCount } = s.latency;
  const probe = probeCount > 0 ? ` (${probeCount === count ? 'all' : probeCount} probe)` : '';
  return `${count}${probe}`;
}

export const METRIC_ROWS: readonly MetricRow[] = [
  { metric: 'state', label: 'State', about: 'The connection as this tab sees it.', value: () => null, text: (s) => s.state, digits: 0, compare: 'none', leaderOnly: false },
  {
    metric: 'offset',
    label: 'Clock offset',
    about: 'Server clock minus ours, from the lowest-round-trip of the last 8 ping/pong exchanges on this transport; ± is half that round trip.',
    value: (s) => s.offsetMs,
    text: (s) => (s.offsetMs === null ? (s.offsetNote ?? '—') : ms(2)(s.offsetMs)),
    digits: 2,
    compare: 'tighter',
    leaderOnly: true,
  },
  {
    metric: 'samples',
    label: 'Latency samples',
    about: 'Latency samples in the window the percentiles are taken over: the last 200, none older than 60 s. Probe messages are counted in it and said so; the probe’s CPU-phase burst is not.',
    value: (s) => s.latency.count,
    text: windowText,
    digits: 0,
    compare: 'none',
    leaderOnly: true,
  },
  {
    metric: 'latency-p50',
    label: 'Latency p50',
    about: `Server send to arrival here, corrected by the clock offset. Shown from ${MIN_SAMPLES.p50} samples.`,
    value: (s) => s.latency.p50,
    text: (s) => percentileText(s, 50),
    digits: 1,
    compare: 'less-ms',
    leaderOnly: true,
  },
  {
    metric: 'latency-p95',
    label: 'Latency p95',
    about: `Shown from ${MIN_SAMPLES.p95} samples (with fewer, p95 is just the largest).`,
    value: (s) => s.latency.p95,
    text: (s) => percentileText(s, 95),
    digits: 1,
    compare: 'less-ms',
    leaderOnly: true,
  },
  {
    metric: 'latency-p99',
    label: 'Latency p99',
    about: `Shown from ${MIN_SAMPLES.p99} samples.`,
    value: (s) => s.latency.p99,
    text: (s) => percentileText(s, 99),
    digits: 1,
    compare: 'less-ms',
    leaderOnly: true,
  },
  {
    metric: 'rate',
    label: 'Messages/s (last 5 s)',
    about: 'Messages received here over the last 5 s, probe messages included, the CPU-phase burst not.',
    value: (s) => s.rate,
    text: (s) => s.rate.toFixed(1),
    digits: 1,
    compare: 'more-ratio',
    leaderOnly: true,
  },
  {
    metric: 'payload-bytes',
    label: 'Payload B/msg',
    about: 'The application JSON per message, since this connection opened (server counters): the WebSocket frame’s text, the SSE event’s data.',
    value: (s) => s.payloadBytes,
    text: (s) => (s.payloadBytes === null ? '—' : s.payloadBytes.toFixed(1)),
    note: (s) => (s.messagesOut === null ? null : `${s.messagesOut} msgs`),
    digits: 1,
    compare: 'less-ratio',
    leaderOnly: true,
  },
  {
    metric: 'wire-bytes',
    label: 'Wire B/msg (excl. heartbeats)',
    about:
      'TCP bytes per message since this connection opened, from the server’s socket: framing included (WebSocket frame headers; SSE id/event/data lines and chunked encoding), heartbeats, protocol pings, retry, hello and SSE clock pongs excluded (next row), handshake and response head excluded.',
    value: (s) => s.wireBytes,
    text: (s) => (s.wireBytes === null ? '—' : s.wireBytes.toFixed(1)),
    note: (s) => (s.messagesOut === null ? null : `${s.messagesOut} msgs`),
    digits: 1,
    compare: 'less-ratio',
    leaderOnly: true,
  },
  {
    metric: 'control-bytes',
    label: 'Heartbeats & control',
    about: 'Wire bytes that carried no message since this connection opened: SSE heartbeats, retry, hello and clock pongs; WebSocket protocol pings. Measured on the socket around each write.',
    value: (s) => s.controlBytes,
    text: (s) => formatBytes(s.controlBytes),
    digits: 0,
    compare: 'none',
    leaderOnly: true,
  },
  { metric: 'reconnects', label: 'Reconnects', about: 'Recoveries since sign-in.', value: (s) => s.reconnects, text: (s) => String(s.reconnects), digits: 0, compare: 'less-count', leaderOnly: true },
  {
    metric: 'recover-ms',
    label: 'Time to recover',
    about: 'Of the latest recovery: from the loss to the next open.',
    value: (s) => s.recoverMs,
    text: (s) => formatDuration(s.recoverMs),
    digits: 0,
    compare: 'less-ms',
    leaderOnly: true,
  },
  { metric: 'replayed', label: 'Events replayed', about: 'Sent from the durable log after a resume.', value: (s) => s.replayed, text: (s) => String(s.replayed), digits: 0, compare: 'none', leaderOnly: true },
  { metric: 'gaps', label: 'Gaps', about: 'Sequence numbers skipped.', value: (s) => s.gaps, text: (s) => String(s.gaps), digits: 0, compare: 'less-count', leaderOnly: true },
  { metric: 'duplicates', label: 'Duplicates', about: 'Sequence numbers seen twice.', value: (s) => s.duplicates, text: (s) => String(s.duplicates), digits: 0, compare: 'less-count', leaderOnly: true },
];

const NAMES: Record<Transport, string> = { ws: 'WS', sse: 'SSE' };

/** The text of one value cell; "n/a" for a figure another tab measures. */
export function cellText(row: MetricRow, s: MeterSnapshot, shared: boolean): string {
  if (shared && s.transport === 'sse' && row.leaderOnly) return row.metric === 'offset' ? (s.offsetNote ?? 'n/a') : 'n/a';
  return row.text(s);
}

/** The verdict of one row: who is ahead and by how much, or why there is none. */
export interface Verdict {
  /** "WS −3.1 ms", "SSE 1.4×", "≈", "=" or "—". */
  text: string;
  winner: Transport | null;
  /** "…, because …": the mechanism, or why the difference is no difference. Null: nothing to explain. */
  because: string | null;
}

const NONE: Verdict = { text: '—', winner: null, because: null };

/** Which transport is ahead on a row, by how much, and why. */
export function verdict(row: MetricRow, sse: MeterSnapshot, ws: MeterSnapshot, shared: boolean): Verdict {
  if (row.compare === 'none' || (shared && row.leaderOnly)) return NONE;
  const a = row.compare === 'tighter' ? sse.uncertaintyMs : row.value(sse);
  const b = row.compare === 'tighter' ? ws.uncertaintyMs : row.value(ws);
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return NONE;
  if (a === b) return { text: '=', winner: null, because: null };
  const more = row.compare === 'more-ratio';
  const [winner, best, other] = (more ? a > b : a < b) ? (['sse', a, b] as const) : (['ws', b, a] as const);
  const name = NAMES[winner];
  // Latencies are only as good as the two clock offsets they are corrected by.
  if (row.metric.startsWith('latency-')) {
    const noise = (sse.uncertaintyMs ?? Infinity) + (ws.uncertaintyMs ?? Infinity);
    if (other - best <= noise) {
      return { text: '≈', winner: null, because: `within the clocks’ uncertainty (±${noise.toFixed(2)} ms together): no difference that can be told apart` };
    }
  }
  if ((row.compare === 'less-ratio' || row.compare === 'more-ratio') && best > 0 && other > 0 && Math.max(best, other) / Math.min(best, other) < 1.05) {
    return { text: '≈', winner: null, because: 'within 5% of each other: no difference worth a verdict' };
  }
  let text: string;
  switch (row.compare) {
    case 'less-ms':
      text = `${name} −${row.metric === 'recover-ms' ? formatDuration(other - best) : `${(other - best).toFixed(row.digits || 0)} ms`}`;
      break;
    case 'tighter':
      text = `${name} ±${best.toFixed(2)} vs ±${other.toFixed(2)} ms`;
      break;
    case 'less-count':
      text = `${name} −${other - best}`;
      break;
    case 'less-ratio':
      text = best > 0 ? `${name} ${(other / best).toFixed(2)}×` : `${name} (0)`;
      break;
    case 'more-ratio':
      text = other > 0 ? `${name} ${(best / other).toFixed(2)}×` : `${name} only`;
      break;
  }
  return { text, winner, because: because(row.metric, winner, sse, ws) };
}

/** Whether both latency windows are mostly probe messages (the same payloads at the same instants). */
function probeFed(sse: MeterSnapshot, ws: MeterSnapshot): boolean {
  return [sse, ws].every((s) => s.latency.count > 0 && s.latency.probeCount * 2 >= s.latency.count);
}

/** The mechanism behind a lead, in a sentence. */
function because(metric: MetricName, winner: Transport, sse: MeterSnapshot, ws: MeterSnapshot): string {
  const w = NAMES[winner];
  switch (metric) {
    case 'offset':
      return winner === 'ws'
        ? 'a WebSocket ping is answered on the already-open socket; the SSE ping is a separate POST whose answer comes back on the stream, so its round trip is longer'
        : 'this time the SSE ping’s round trip (POST out, pong on the stream) was the shorter of the two';
    case 'latency-p50':
    case 'latency-p95':
    case 'latency-p99':
      return probeFed(sse, ws)
        ? `the same payloads were sent at the same instants on both (probe): ${winner === 'ws' ? 'a WebSocket frame is a 2–4 B header on an open socket; an SSE event adds chunked encoding and the EventSource parser' : 'the SSE path delivered these sooner; both are pushes on an open connection, so the gap is the stack, not the protocol'}`
        : `different traffic: WS carries chat, SSE notifications and blog updates, so this compares different messages; run the probe for the same payloads on both`;
    case 'rate':
      return `more of your traffic travels on ${w} (chat on WS; notifications and blogs on SSE): a count of messages, not a speed`;
    case 'payload-bytes':
      return winner === 'ws'
        ? 'its messages are smaller ones; WS payloads include the {"event","data"} envelope, SSE payloads are the data alone'
        : 'SSE payloads are the data alone; a WS payload includes the {"event","data"} envelope';
    case 'wire-bytes': {
      const framing = (t: MeterSnapshot) => (t.wireBytes !== null && t.payloadBytes !== null ? `${(t.wireBytes - t.payloadBytes).toFixed(1)} B` : '?');
      return `framing per message here is WS ${framing(ws)} (a 2–4 B frame header) and SSE ${framing(sse)} (id:/event:/data: lines, a blank line, a chunk header), on payloads of different sizes (a WS payload includes its {"event","data"} envelope)`;
    }
    case 'reconnects':
      return `${w} lost its connection fewer times since sign-in`;
    case 'recover-ms':
      return winner === 'ws'
        ? `a lost WebSocket retries after ${WS_BACKOFF_BASE_MS}–${WS_BACKOFF_CAP_MS} ms of jittered backoff (${RESTART_RETRY_MS}–${RESTART_RETRY_MS + RESTART_JITTER_MS} ms after a deploy); the EventSource waits the server’s retry: (${SSE_DEFAULT_RETRY_MS} ms by default) first`
        : `the EventSource retried after the server’s retry: wait (${SSE_DEFAULT_RETRY_MS} ms by default), sooner than the WebSocket’s jittered backoff drew this time`;
    case 'gaps':
    case 'duplicates':
      return `${w} resumed from the durable log (${winner === 'ws' ? 'join with afterSeq' : 'Last-Event-ID'}) without skipping or repeating`;
    case 'control-bytes':
    case 'replayed':
    case 'samples':
    case 'state':
      return ''; // no lead to explain: these rows carry no verdict
  }
}
