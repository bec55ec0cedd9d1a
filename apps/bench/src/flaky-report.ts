/** The "Flaky networks" part of the report: the churn and storm tables, their targets (issue 17) and a chart. */
import type { ChurnPoint, StormPoint } from './flaky-scenarios.js';
import type { FlakySystem, Fractions } from './protocol.js';

export interface FlakyVerdict {
  target: string;
  figure: string;
  met: boolean | null;
}

const APP: FlakySystem[] = ['app-ws', 'app-sse'];
const LABEL: Record<FlakySystem, string> = { 'app-ws': 'app-ws', 'app-sse': 'app-sse', socketio: 'socketio (recovery on)', 'raw-ws': 'raw-ws (no recovery)' };
const COLORS: Record<FlakySystem, string> = { 'app-ws': '#2563eb', 'app-sse': '#16a34a', socketio: '#f59e0b', 'raw-ws': '#93c5fd' };

const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(b >= 1e5 ? 3 : 2)}%` : 'n/a');
const ms0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const s2 = (v: number | null) => (v === null ? 'never' : `${(v / 1000).toFixed(2)}`);
const frac = (f: Fractions) => `${s2(f.p50)} / ${s2(f.p99)} / ${s2(f.p100)}`;
const loops = (d: { p99: number; max: number } | undefined) => (d ? `${ms0(d.p99)} / ${ms0(d.max)}` : 'n/a');
/** A time after SIGTERM as a time after the new process answered. */
const after = (v: number | null, p: StormPoint) => (v === null ? null : v - p.listeningMs);

function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const perfect = (p: ChurnPoint | StormPoint) => p.expected > 0 && p.exactlyOnce === p.expected && p.lost === 0 && p.duplicated === 0 && p.outOfOrder === 0 && p.unexpected === 0;

export function flakyVerdicts(churn: ChurnPoint[], storm: StormPoint[]): FlakyVerdict[] {
  const out: FlakyVerdict[] = [];
  const check = (target: string, parts: { figure: string; ok: boolean }[]) =>
    out.push(parts.length ? { target, figure: parts.map((p) => p.figure).join('; '), met: parts.every((p) => p.ok) } : { target, figure: 'n/a', met: null });
  const c = (s: FlakySystem) => churn.find((p) => p.system === s);
  const st = (s: FlakySystem) => storm.find((p) => p.system === s);
  const n = churn[0]?.clients ?? 0;
  check(
    `churn at ${n} clients: app WebSocket and SSE deliver 100% exactly once, in order`,
    APP.flatMap((s) => {
      const p = c(s);
      return p ? [{ figure: `${s} ${pct(p.exactlyOnce, p.expected)} of ${p.expected} (${p.lost} lost, ${p.duplicated} duplicated, ${p.outOfOrder} out of order)`, ok: perfect(p) }] : [];
    }),
  );
  check(
    `churn at ${n} clients: replay p99 at most 1 s (from the moment the client's network is back; from publish it also holds the 1-3 s offline)`,
    APP.flatMap((s) => {
      const p = c(s);
      return p ? [{ figure: `${s} ${ms0(p.replay.fromOnline.p99)} ms after back (${ms0(p.replay.fromPublish.p99)} ms from publish, ${p.replay.fromOnline.n} replayed)`, ok: p.replay.fromOnline.n > 0 && p.replay.fromOnline.p99 <= 1000 }] : [];
    }),
  );
  const m = storm[0]?.clients ?? 0;
  check(
    `storm at ${m} clients: 100% back and caught up within 10 s of the restart (SIGTERM), nothing lost or duplicated`,
    APP.flatMap((s) => {
      const p = st(s);
      const r = p?.recovery;
      return p && r
        ? [{ figure: `${s} 100% at ${s2(r.caughtUp.p100)} s (the new process answered at ${s2(p.listeningMs)} s: ${s2(after(r.caughtUp.p100, p))} s after), ${p.lost} lost, ${p.duplicated} duplicated`, ok: r.caughtUp.p100 !== null && r.caughtUp.p100 <= 10_000 && perfect(p) }]
        : [];
    }),
  );
  const io = st('socketio')?.recovery;
  check(
    `storm at ${m} clients: at least 2x faster to 99% than Socket.IO with recovery (the app caught up against Socket.IO merely back, which it is before it has the messages it missed)`,
    io
      ? APP.flatMap((s) => {
          const r = st(s)?.recovery;
          if (!r) return [];
          const app = r.caughtUp.p99;
          const them = io.back.p99;
          const ratio = app === null ? 0 : them === null ? Infinity : them / app;
          const p = st(s)!;
          const q = st('socketio')!;
          const a2 = after(app, p);
          const t2 = after(them, q);
          const ratio2 = a2 === null ? 0 : t2 === null ? Infinity : t2 / a2;
          return [
            {
              figure: `${s} ${s2(app)} s vs Socket.IO ${s2(them)} s after SIGTERM = ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'Socket.IO never'} (after each new process answered: ${s2(a2)} s vs ${s2(t2)} s = ${Number.isFinite(ratio2) ? `${ratio2.toFixed(2)}x` : 'Socket.IO never'})`,
              ok: ratio >= 2,
            },
          ];
        })
      : [],
  );
  return out;
}

export function flakySection(churn: ChurnPoint[], storm: StormPoint[], settings: Record<string, unknown>): string {
  const parts: string[] = [];
  const [pLo, pHi] = (settings.churnPeriodMs as [number, number] | undefined) ?? [NaN, NaN];
  const [oLo, oHi] = (settings.churnOfflineMs as [number, number] | undefined) ?? [NaN, NaN];
  parts.push(`![flaky networks](flaky.svg)

Four systems: the app's WebSocket (rejoins with \`afterSeq\`), the app's SSE on a live blog's
stream (\`EventSource\` semantics: \`Last-Event-ID\`, the server's \`retry:\`), Socket.IO 4 with
\`connectionStateRecovery\` on (its client resumes with its session id and offset), and raw \`ws\`,
which resumes nothing (the floor of what is lost). One publisher, in a load process of its own,
makes 100-byte messages at a fixed rate and sends each until the server takes it (an ack, a 201,
or for raw ws a write to an open socket); every client is judged against the messages taken.
"Exactly once" counts (client, message) pairs received once; lost pairs never came; a duplicate
is a copy beyond the first; out of order is a first copy that came after a later message.`);
  if (churn.length) {
    const c0 = churn[0]!;
    parts.push(`### Churn: ${c0.clients} clients, each offline ${(oLo / 1000).toFixed(1)}-${(oHi / 1000).toFixed(1)} s once every ${(pLo / 1000).toFixed(0)}-${(pHi / 1000).toFixed(0)} s, for ${(c0.durationMs / 1000).toFixed(0)} s at ${c0.rate} messages/s

A client's drop cuts its TCP connection (no close handshake); when its offline time is over it
tries at once. Replay delay is for messages that came by replay or resume (made before the
connection they came on was ready): from their publish (which includes the time offline), and from
the moment the client's network was back (what the server and protocol add). Reconnect is a
reconnection's last attempt, from its start to the connection being ready. Server CPU is over the
churn, as a share of one core; the server's event-loop delay shows its stalls (a blocking write, a
long GC), which CPU alone does not. The last column is the receivers' load process's own event-loop
delay: when it is high, the figures are the load generator's, not the server's.

${table(
  ['system', 'messages taken', 'exactly once', 'lost', 'duplicated', 'out of order', 'replay p50 / p99 from publish (ms)', 'replay p50 / p99 after back (ms)', 'drops / reconnects (failed)', 'reconnect p50 / p99 (ms)', 'server CPU', 'server loop delay p99 / max (ms)', 'load loop delay p99 (ms)'],
  churn.map((p) => [
    LABEL[p.system],
    p.accepted,
    `${pct(p.exactlyOnce, p.expected)} (${p.exactlyOnce} / ${p.expected})`,
    p.lost,
    p.duplicated,
    p.outOfOrder,
    `${ms0(p.replay.fromPublish.p50)} / ${ms0(p.replay.fromPublish.p99)}`,
    `${ms0(p.replay.fromOnline.p50)} / ${ms0(p.replay.fromOnline.p99)}`,
    `${p.drops} / ${p.reconnects} (${p.failedAttempts})`,
    `${ms0(p.connect?.p50 ?? NaN)} / ${ms0(p.connect?.p99 ?? NaN)}`,
    `${(p.serverCpuShare * 100).toFixed(0)}% (${(p.serverCpuMs / 1000).toFixed(1)} s)`,
    loops(p.serverLoopDelay),
    ms0(p.loadLoopDelay?.p99 ?? NaN),
  ]),
)}`);
  }
  if (storm.length) {
    const s0 = storm[0]!;
    parts.push(`### Storm: ${s0.clients} clients, the server restarted under them, publishing at ${s0.rate} messages/s throughout

SIGTERM, the process exits (the app first tells every socket 1012 and ends every stream), the same
program starts again on the same port; every client comes back with its own client's backoff: the
app's WebSocket retries every 0.5 s + 0-0.5 s after a 1012 (packages/protocol/src/reconnect.ts),
its SSE after the server's \`retry:\` (1 s), Socket.IO with its Manager's defaults (1 s x 2^attempt,
+-50 %, at most 5 s), raw ws with full jitter from 0.5 s. Times are seconds after SIGTERM.
"Back" is a new connection ready; "caught up" is back and holding every taken message made before
it was back (never, for a client that lost one). Failed attempts are refused or reset connections
and error answers. Server CPU and peak RSS are the new process's, from its start until every
client was live again, so they include its boot.

${table(
  ['system', 'down: exited / answering (s)', 'back 50% / 99% / 100% (s)', 'caught up 50% / 99% / 100% (s)', 'caught up 99% / 100% after answering (s)', 'failed attempts', 'lost', 'duplicated', 'server CPU (s)', 'peak RSS (MiB)', 'server loop delay p99 / max (ms)', 'load loop delay p99 (ms)'],
  storm.map((p) => [
    LABEL[p.system],
    `${(p.exitMs / 1000).toFixed(2)} / ${(p.listeningMs / 1000).toFixed(2)}`,
    frac(p.recovery!.back),
    `${frac(p.recovery!.caughtUp)}${p.recovery!.neverCaughtUp ? ` (${p.recovery!.neverCaughtUp} never)` : ''}`,
    `${s2(after(p.recovery!.caughtUp.p99, p))} / ${s2(after(p.recovery!.caughtUp.p100, p))}`,
    `${p.failedAttempts}${p.refusedByStatus ? ` (${p.refusedByStatus} by status)` : ''}`,
    `${p.lost} of ${p.expected}`,
    p.duplicated,
    (p.serverCpuMs / 1000).toFixed(2),
    (p.peakRss / 2 ** 20).toFixed(0),
    loops(p.serverLoopDelay),
    ms0(p.loadLoopDelay?.p99 ?? NaN),
  ]),
)}`);
  }
  if (!churn.length && !storm.length) return 'Not run.';
  return parts.join('\n\n');
}

/** Two panels: churn's exactly-once share per system, and the storm's time to 99% back and caught up. */
export function flakyChart(churn: ChurnPoint[], storm: StormPoint[]): string {
  const systems = [...new Set([...churn.map((p) => p.system), ...storm.map((p) => p.system)])];
  const barH = 16;
  const panelW = 420;
  const labelW = 150;
  const rowH = barH + 4;
  const height = 60 + systems.length * rowH * 2 + 20;
  const width = 2 * (labelW + panelW) + 60;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`, `<rect width="100%" height="100%" fill="#fff"/>`];
  const bar = (x0: number, y: number, label: string, value: number, max: number, text: string, color: string) => {
    const w = Number.isFinite(value) ? Math.max(1, (value / max) * (panelW - 90)) : 0;
    parts.push(`<text x="${x0}" y="${y + 12}">${esc(label)}</text>`);
    parts.push(`<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
    parts.push(`<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${y + 12}">${esc(text)}</text>`);
  };
  // Churn: exactly once, %.
  let x0 = 20;
  parts.push(`<text x="${x0}" y="20" font-weight="600">Churn: delivered exactly once, % (higher is better)</text>`);
  systems.forEach((s, i) => {
    const p = churn.find((q) => q.system === s);
    const v = p && p.expected ? (100 * p.exactlyOnce) / p.expected : NaN;
    bar(x0, 40 + i * rowH, LABEL[s], v, 100, Number.isFinite(v) ? `${v.toFixed(2)}%` : 'n/a', COLORS[s]);
  });
  // Storm: seconds to 99% back, and to 99% caught up.
  x0 = 20 + labelW + panelW + 20;
  parts.push(`<text x="${x0}" y="20" font-weight="600">Storm: seconds after restart to 99% back / caught up (lower is better)</text>`);
  const times = storm.flatMap((p) => [p.recovery?.back.p99, p.recovery?.caughtUp.p99]).filter((v): v is number => typeof v === 'number');
  const max = Math.max(1, ...times);
  systems.forEach((s, i) => {
    const r = storm.find((q) => q.system === s)?.recovery;
    const y = 40 + i * rowH * 2;
    const back = r?.back.p99 ?? null;
    const caught = r?.caughtUp.p99 ?? null;
    bar(x0, y, `${LABEL[s]} back`, back ?? NaN, max, r ? (back === null ? 'never' : `${(back / 1000).toFixed(2)} s`) : 'n/a', COLORS[s] + '99');
    bar(x0, y + rowH, `${LABEL[s]} caught up`, caught ?? NaN, max, r ? (caught === null ? 'never (lost messages)' : `${(caught / 1000).toFixed(2)} s`) : 'n/a', COLORS[s]);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
