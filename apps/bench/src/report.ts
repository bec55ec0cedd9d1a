/** Turns a run's results into the markdown report, the charts and the targets' verdicts. */
import { flakyChart, flakySection, flakyVerdicts } from './flaky-report.js';
import type { ChurnPoint, StormPoint } from './flaky-scenarios.js';
import { TRANSPORT, type SystemName } from './protocol.js';
import type { ChatPoint, FanoutPoint, IdlePoint, MultiConfig, MultiPoint, StoreEngine, StorePoint, SweepPoint, WhiteboardPoint } from './scenarios.js';

export interface Results {
  meta: {
    date: string;
    mode: 'smoke' | 'full';
    node: string;
    cpu: string;
    cores: number;
    memoryGiB: number;
    pinned: string;
    settings: Record<string, unknown>;
    durationSeconds: number;
  };
  idle: IdlePoint[];
  fanout: FanoutPoint[];
  sweep: SweepPoint[];
  chat: ChatPoint[];
  /** A room's whiteboard: drawers and viewers (absent from results written before it existed). */
  whiteboard?: WhiteboardPoint[];
  /** Two instances and the Redis hop (absent from results written before it existed). */
  multi?: MultiPoint[];
  /** Why the two-instance scenario was skipped (PostgreSQL or Redis not reachable). */
  multiSkipped?: string;
  /** Stored messages per second, per database engine (absent from results written before it existed). */
  store?: StorePoint[];
  /** Flaky networks (absent from results written before they existed). */
  churn?: ChurnPoint[];
  storm?: StormPoint[];
}

/** The stored-messages-per-second targets, per engine, on one server core. */
const STORE_TARGETS: Record<StoreEngine, number> = { sqlite: 10_000, postgres: 5_000 };

export interface Verdict {
  target: string;
  figure: string;
  met: boolean | null;
}

const BASELINES: SystemName[] = ['raw-ws', 'raw-sse', 'socketio', 'floor'];
const isBaseline = (s: SystemName) => BASELINES.includes(s);
/** The raw baseline of a system's own transport. */
const RAW: Record<'ws' | 'sse' | 'tcp', SystemName> = { ws: 'raw-ws', sse: 'raw-sse', tcp: 'floor' };

const k = (n: number) => (Number.isFinite(n) ? `${(n / 1000).toFixed(1)}k` : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const x = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a');
const kib = (n: number) => (Number.isFinite(n) ? (n / 1024).toFixed(1) : 'n/a');
/**
 * RSS per connection: the process's RSS growth over its start. The app frees startup garbage
 * and its allocator hands pages back while connections open, so its RSS can end below the start;
 * that is shown as such, not as a negative size (heap after GC is the figure to compare).
 */
const rssKib = (n: number) => (n < 0 ? 'below start' : kib(n));
const b = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const yes = (v: boolean | null) => (v === null ? 'not measured' : v ? '**met**' : '**missed**');

function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const fan = (system: SystemName, receivers: number) => r.fanout.find((p) => p.system === system && p.receivers === receivers);
  const sizes = [...new Set(r.fanout.map((p) => p.receivers))];
  const check = (target: string, parts: { figure: string; ok: boolean }[]) => {
    out.push(parts.length ? { target, figure: parts.map((p) => p.figure).join('; '), met: parts.every((p) => p.ok) } : { target, figure: 'n/a', met: null });
  };

  const efficiency = (app: SystemName, base: SystemName, factor: number, label: string) => {
    const parts = [];
    for (const n of sizes) {
      const a = fan(app, n);
      const o = fan(base, n);
      if (!a || !o) continue;
      const ratio = a.deliveriesPerCpuSecond / o.deliveriesPerCpuSecond;
      parts.push({ figure: `${n} receivers: ${k(a.deliveriesPerCpuSecond)} vs ${k(o.deliveriesPerCpuSecond)} per CPU-s = ${x(ratio)}`, ok: ratio >= factor });
    }
    check(label, parts);
  };
  efficiency('app-ws', 'socketio', 1.1, 'Fan-out per server CPU-second: app WebSocket at least 1.1x Socket.IO');
  efficiency('app-ws', 'raw-ws', 0.85, 'Fan-out per server CPU-second: app WebSocket at least 0.85x raw ws');
  efficiency('app-sse', 'raw-sse', 1.0, 'Fan-out per server CPU-second: app SSE at least 1.0x raw SSE');

  const small = Math.min(...sizes);
  const large = Math.max(...sizes);
  check(
    `p99 one-way latency at half saturation, ${small} receivers: 5 ms or less`,
    (['app-ws', 'app-sse'] as SystemName[]).flatMap((s) => {
      const p = fan(s, small);
      return p ? [{ figure: `${s} ${ms(p.latency.p99)} ms`, ok: p.latency.p99 <= 5 }] : [];
    }),
  );
  check(
    `p99 one-way latency at half saturation, ${large} receivers: no worse than the raw baseline of the same transport`,
    (['app-ws', 'app-sse'] as SystemName[]).flatMap((s) => {
      const p = fan(s, large);
      const raw = fan(RAW[TRANSPORT[s]], large);
      const io = fan('socketio', large);
      if (!p || !raw || !io) return [];
      const ratio = p.latency.p99 / raw.latency.p99;
      return [{ figure: `${s} ${ms(p.latency.p99)} ms = ${x(ratio)} ${raw.system} (${ms(raw.latency.p99)}), Socket.IO ${ms(io.latency.p99)}`, ok: ratio <= 1.0 }];
    }),
  );

  const most = Math.max(...r.idle.map((p) => p.connections));
  check(
    `Memory per idle connection (${most} connections, heap after GC): at most 1.25x the raw baseline of the same transport`,
    (['app-ws', 'app-sse'] as SystemName[]).flatMap((s) => {
      const p = r.idle.find((i) => i.system === s && i.connections === most);
      const raw = r.idle.find((i) => i.system === RAW[TRANSPORT[s]] && i.connections === most);
      if (!p || !raw) return [];
      const ratio = p.heapPerConnection / raw.heapPerConnection;
      return [{ figure: `${s} ${kib(p.heapPerConnection)} KiB vs ${kib(raw.heapPerConnection)} KiB = ${x(ratio)} (RSS ${rssKib(p.rssPerConnection)} vs ${rssKib(raw.rssPerConnection)} KiB)`, ok: ratio <= 1.25 }];
    }),
  );

  check(
    `Connection setup CPU (opening ${most} connections, handshake to hello): at most 2x the raw baseline of the same transport`,
    (['app-ws', 'app-sse'] as SystemName[]).flatMap((s) => {
      const p = r.idle.find((i) => i.system === s && i.connections === most);
      const raw = r.idle.find((i) => i.system === RAW[TRANSPORT[s]] && i.connections === most);
      if (p?.setupCpuMicrosPerConnection === undefined || raw?.setupCpuMicrosPerConnection === undefined) return [];
      const ratio = p.setupCpuMicrosPerConnection / raw.setupCpuMicrosPerConnection;
      return [{ figure: `${s} ${p.setupCpuMicrosPerConnection.toFixed(0)} µs vs ${raw.setupCpuMicrosPerConnection.toFixed(0)} µs = ${x(ratio)}`, ok: ratio <= 2 }];
    }),
  );

  const at100 = (s: SystemName) => r.sweep.find((p) => p.system === s && p.payloadBytes === 100);
  const appWs = at100('app-ws');
  check(
    'Wire bytes, 100-byte payload: app WebSocket at most a 2-byte header + 60 bytes of envelope + the text (162 B), exactly the RFC 6455 header plus our frame',
    appWs
      ? [{ figure: `${b(appWs.wireBytes)} B on the wire per message = ${b(appWs.frameBytes - appWs.textBytes)} B header + ${b(appWs.textBytes)} B frame (${b(appWs.textBytes - 100)} B of envelope around the 100-byte text)${appWs.exact ? ', exact to the byte' : ', NOT exact'}`, ok: appWs.exact && appWs.wireBytes <= 2 + 60 + 100 }]
      : [],
  );
  const appSse = at100('app-sse');
  const rawSse = at100('raw-sse');
  check(
    'Wire bytes, 100-byte payload: app SSE framing + envelope at most 62 bytes (the WebSocket bound: 2 + 60)',
    appSse && rawSse
      ? (() => {
          const app = appSse.wireBytes - appSse.dataBytes;
          const raw = rawSse.wireBytes - rawSse.dataBytes;
          const around = appSse.wireBytes - 100;
          return [{ figure: `${b(around)} B around the text: SSE framing ${b(app)} B (raw ${b(raw)} B) + ${b(appSse.dataBytes - 100)} B of envelope; wire ${b(appSse.wireBytes)} vs raw ${b(rawSse.wireBytes)} B`, ok: around <= 62 }];
        })()
      : [],
  );
  for (const engine of Object.keys(STORE_TARGETS) as StoreEngine[]) {
    // The storage path: each publisher in a room of its own.
    const p = r.store?.find((point) => point.engine === engine && point.layout === 'room-each');
    check(
      `Stored messages per second on one core, ${engine} (${p?.publishers ?? 'N'} publishers, a room each): at least ${k(STORE_TARGETS[engine])}, every one acked and gapless`,
      p ? [{ figure: `${k(p.storedPerSecond)}/s (${k(p.storedPerCpuSecond)} per CPU-s, ${p.cpuMicrosPerMessage.toFixed(0)} µs of CPU each)${p.gapless && p.complete ? ', all acked, seqs 1..N' : ', NOT all acked or not gapless'}`, ok: p.storedPerSecond >= STORE_TARGETS[engine] && p.gapless && p.complete }] : [],
    );
  }
  if (r.churn?.length || r.storm?.length) out.push(...flakyVerdicts(r.churn ?? [], r.storm ?? []));
  return out;
}

function storeSection(r: Results): string {
  const points = r.store ?? [];
  if (!points.length) return 'Not run.';
  return table(
    ['engine', 'publishers', 'rooms', 'deliveries per message', 'saturation (offered/s)', 'stored/s', 'stored per CPU-s', 'CPU per message', 'ack p50 / p99 at half', 'all acked, gapless'],
    points.map((p) => [p.engine, p.publishers, p.rooms ?? 1, p.rooms === p.publishers ? 1 : p.publishers, p.saturationRate.toFixed(0), k(p.storedPerSecond), k(p.storedPerCpuSecond), `${p.cpuMicrosPerMessage.toFixed(1)} µs`, `${ms(p.latency.p50)} / ${ms(p.latency.p99)} ms`, p.gapless && p.complete ? 'yes' : 'NO']),
  );
}

function fanoutSection(r: Results): string {
  const parts: string[] = [];
  for (const n of [...new Set(r.fanout.map((p) => p.receivers))]) {
    const points = r.fanout.filter((p) => p.receivers === n);
    const best = Math.max(...points.filter((p) => isBaseline(p.system)).map((p) => p.deliveriesPerCpuSecond));
    const bestBaseline = points.find((p) => p.deliveriesPerCpuSecond === best)?.system ?? 'n/a';
    const per = (s: SystemName) => points.find((p) => p.system === s);
    parts.push(
      `### ${n} receivers, one publisher, 100-byte payload\n\n` +
        table(
          ['system', 'saturation (msg/s)', 'deliveries/s', 'deliveries per server CPU-s', `x best baseline (${bestBaseline})`, 'x raw, same transport', 'p50 / p95 / p99 ms at half saturation', 'all delivered'],
          points.map((p) => [
            p.system,
            p.saturationRate.toFixed(0),
            k(p.deliveriesPerSecond),
            k(p.deliveriesPerCpuSecond),
            x(p.deliveriesPerCpuSecond / best),
            x(p.deliveriesPerCpuSecond / (per(RAW[TRANSPORT[p.system]])?.deliveriesPerCpuSecond ?? NaN)),
            `${ms(p.latency.p50)} / ${ms(p.latency.p95)} / ${ms(p.latency.p99)}`,
            p.complete ? 'yes' : 'NO',
          ]),
        ),
    );
  }
  return parts.join('\n\n');
}

function idleSection(r: Results): string {
  const rawOf = (p: IdlePoint) => r.idle.find((i) => i.system === RAW[TRANSPORT[p.system]] && i.connections === p.connections);
  return table(
    ['system', 'connections', 'heap per connection (KiB)', 'x raw, same transport', 'RSS per connection (KiB)', 'server RSS (MiB)', 'setup CPU per connection (µs)', 'x raw'],
    r.idle.map((p) => [
      p.system,
      p.connections,
      kib(p.heapPerConnection),
      x(p.heapPerConnection / (rawOf(p)?.heapPerConnection ?? NaN)),
      rssKib(p.rssPerConnection),
      (p.rss / 2 ** 20).toFixed(0),
      p.setupCpuMicrosPerConnection?.toFixed(0) ?? '-',
      x((p.setupCpuMicrosPerConnection ?? NaN) / (rawOf(p)?.setupCpuMicrosPerConnection ?? NaN)),
    ]),
  );
}

function sweepSection(r: Results): string {
  return table(
    ['system', 'payload (B)', 'wire B per message', 'wire minus payload', 'server CPU µs per delivery', 'wire = frames exactly'],
    r.sweep.map((p) => [p.system, p.payloadBytes, b(p.wireBytes), b(p.wireBytes - p.payloadBytes), p.cpuMicrosPerDelivery.toFixed(2), TRANSPORT[p.system] === 'ws' && p.system !== 'socketio' ? (p.exact ? 'yes' : 'no') : '-']),
  );
}

function chatSection(r: Results): string {
  if (!r.chat.length) return 'Not run.';
  const best = Math.max(...r.chat.filter((p) => isBaseline(p.system)).map((p) => p.deliveriesPerCpuSecond));
  return table(
    ['system', 'participants', 'messages/s', 'deliveries/s', 'deliveries per server CPU-s', 'x best baseline', 'p50 / p95 / p99 ms', 'all delivered'],
    r.chat.map((p) => [p.system, p.participants, p.rate, k(p.deliveriesPerSecond), k(p.deliveriesPerCpuSecond), x(p.deliveriesPerCpuSecond / best), `${ms(p.latency.p50)} / ${ms(p.latency.p95)} / ${ms(p.latency.p99)}`, p.complete ? 'yes' : 'NO']),
  );
}

/** Each whiteboard point against Socket.IO's at the same viewer count: deliveries per CPU-second, p99 and wire bytes per segment. */
function againstSocketIo(r: Results, p: WhiteboardPoint): { cpu: number; p99: number; bytes: number } {
  const io = r.whiteboard?.find((q) => q.system === 'socketio' && q.viewers === p.viewers);
  return { cpu: p.deliveriesPerCpuSecond / (io?.deliveriesPerCpuSecond ?? NaN), p99: p.latency.p99 / (io?.latency.p99 ?? NaN), bytes: p.wireBytesPerSegment / (io?.wireBytesPerSegment ?? NaN) };
}

const lost = (p: WhiteboardPoint) => {
  const notes = [p.lost ? `${p.lost} lost` : '', p.duplicated ? `${p.duplicated} duplicated` : '', p.errors ? `${p.errors} refused` : ''].filter(Boolean);
  return `${p.delivered} / ${p.expected}${notes.length ? ` (${notes.join(', ')})` : ''}`;
};

function whiteboardSection(r: Results): string {
  const points = r.whiteboard ?? [];
  if (!points.length) return 'Not run.';
  const m = r.meta.settings;
  const first = points[0]!;
  const intro = `${first.drawers} drawers in one board, each sending ${first.rate} segments a second (strokes of 60 segments, ${first.pointsPerSegment.toFixed(1)} points a segment on average; the pens are seeded, so every system gets the same segments), for ${(Number(m.boardMs) / 1000).toFixed(1)} s a step, each figure the median of ${String(m.repeats)} step${m.repeats === 1 ? '' : 's'} after a warm-up.
**app-ws**: drawers and viewers \`board-join\` the room's board on \`/ws\`; every segment is a \`board-stroke\`, validated, rate-checked (per user: each drawer is a user of its own) and stored through the group commit, then sent to every member as its entry tuple. **app-sse**: the same drawers; viewers read \`board:<roomId>\` on \`/api/events\`, signed in. **socketio** relays the segment to the room unstored (\`socket.to(room).emit\`); **raw-ws**, **raw-sse** and **floor** relay its JSON as they relay any message. The app's and the relays' drawers are members of the board and get the others' segments (the app's their own too, as its ack; raw-sse's drawers only POST); only the viewers' deliveries are counted.
Latency is the drawer's send to the viewer's receipt on the load generator's one clock (drawers and viewers share that process; a delivery is matched to its send by stroke and part), so it needs no offset correction and includes the load generator's own queueing. Bytes are what the viewers' sockets read, per delivered segment. CPU is the server's over the step and its drain.`;
  const parts = [intro];
  for (const n of [...new Set(points.map((p) => p.viewers))]) {
    const rows = points.filter((p) => p.viewers === n);
    parts.push(
      `### ${n} viewers, ${first.drawers} drawers at ${first.rate} segments/s each (${k(first.drawers * first.rate * n)} deliveries/s offered)\n\n` +
        table(
          ['system', 'delivered / expected', 'deliveries/s', 'deliveries per server CPU-s', 'x socketio', 'p50 / p95 / p99 ms, send to receipt', 'p99 x socketio', 'wire B per segment', 'all delivered'],
          rows.map((p) => {
            const io = againstSocketIo(r, p);
            return [p.system, lost(p), k(p.deliveriesPerSecond), k(p.deliveriesPerCpuSecond), x(io.cpu), `${ms(p.latency.p50)} / ${ms(p.latency.p95)} / ${ms(p.latency.p99)}`, x(io.p99), b(p.wireBytesPerSegment), p.complete ? 'yes' : 'NO'];
          }),
        ),
    );
  }
  return parts.join('\n\n');
}

const DEPLOYMENT_LABEL: Record<MultiConfig, string> = {
  one: 'one instance, in-process bus',
  'two-redis': 'two instances over Redis (publisher on A, receivers on B)',
  'one-redis': 'one instance, Redis bus',
};

/** `lo-hi` of a few figures, or the one figure when they agree to the shown precision. */
function span(values: number[], fmt: (n: number) => string): string {
  const lo = fmt(Math.min(...values));
  const hi = fmt(Math.max(...values));
  return lo === hi ? lo : `${lo} to ${hi}`;
}

const signed = (n: number, digits: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(digits)}` : 'n/a');

function multiSection(r: Results): string {
  if (r.multiSkipped) return `Skipped: ${r.multiSkipped}.`;
  const points = r.multi ?? [];
  if (!points.length) return 'Not run.';
  const m = r.meta.settings;
  const rates = [...new Set(points.map((p) => p.rate))];
  const receivers = points[0]!.receivers;
  const intro = `The app's WebSocket on PostgreSQL: one publisher, ${receivers} receivers, 100-byte payload, at fixed offered rates of ${rates.join(' and ')} messages/s (not a saturation search: rates one instance keeps up with), each point the median of ${String(m.repeats)} step${m.repeats === 1 ? '' : 's'} of ${(Number(m.multiMs) / 1000).toFixed(1)} s, with a fresh database (and Redis prefix) per deployment, the deployments one after the other.
**one instance, in-process bus** is (a); **two instances over Redis** is (b): both on the same database and one Redis, the publisher's socket on A and every receiver on B, so every delivery crosses Redis; **one instance, Redis bus** delivers locally at once and also publishes each event, which comes back to it from Redis and is dropped.
Every instance is pinned to core 0: the two instances share one core, as the single instance has one core to itself; PostgreSQL and Redis are not pinned.
App CPU is the user+system time of every instance of the deployment, summed (A + B split in brackets); PostgreSQL's CPU is in no column; Redis's is its whole server's (INFO), so another client of the same Redis would show in it.
Latency is one-way, publish to delivery, on the load generator's one clock (publisher and receivers share that process), so it needs no offset correction even across instances.`;
  const rows = points.map((p) => [
    DEPLOYMENT_LABEL[p.config],
    p.rate,
    `${p.delivered} / ${p.expected}${p.errors ? ` (${p.errors} refused)` : ''}`,
    `${ms(p.latency.p50)} / ${ms(p.latency.p95)} / ${ms(p.latency.p99)}`,
    `${p.cpuMicrosPerDelivery.toFixed(1)}${p.instances > 1 ? ` (${p.cpuMicrosPerDeliveryEach.map((c) => c.toFixed(1)).join(' + ')})` : ''}`,
    p.redisCpuMicrosPerDelivery === null ? '-' : p.redisCpuMicrosPerDelivery.toFixed(1),
    p.complete ? 'yes' : 'NO',
  ]);
  const measured = table(['deployment', 'messages/s', 'delivered / expected', 'p50 / p95 / p99 ms', 'app CPU µs per delivery', 'Redis CPU µs per delivery', 'all delivered'], rows);

  const at = (config: MultiConfig, rate: number) => points.find((p) => p.config === config && p.rate === rate);
  const pairs = rates.flatMap((rate) => {
    const one = at('one', rate);
    const two = at('two-redis', rate);
    return one && two ? [{ rate, one, two }] : [];
  });
  if (!pairs.length) return `${intro}\n\n${measured}`;
  const ratios = pairs.map(({ rate, one, two }) => ({
    rate,
    p50: two.latency.p50 / one.latency.p50,
    p50Delta: two.latency.p50 - one.latency.p50,
    p99: two.latency.p99 / one.latency.p99,
    p99Delta: two.latency.p99 - one.latency.p99,
    cpu: two.cpuMicrosPerDelivery / one.cpuMicrosPerDelivery,
    cpuDelta: two.cpuMicrosPerDelivery - one.cpuMicrosPerDelivery,
  }));
  const hop = table(
    ['messages/s', 'p50 (b)/(a)', 'p99 (b)/(a)', 'app CPU per delivery (b)/(a)'],
    ratios.map((q) => [q.rate, `${x(q.p50)} (${signed(q.p50Delta, 2)} ms)`, `${x(q.p99)} (${signed(q.p99Delta, 2)} ms)`, `${x(q.cpu)} (${signed(q.cpuDelta, 1)} µs)`]),
  );
  const all = (f: (q: (typeof ratios)[number]) => number) => ratios.map(f);
  /** A change whose sign differs between the rates has no direction these runs can show. */
  const direction = (deltas: number[]) => (deltas.some((d) => d < 0) && deltas.some((d) => d > 0) ? ', no consistent direction' : '');
  const sentence =
    `Carrying every delivery across Redis to a second instance (b, against one instance a) changed the median latency by ${span(all((q) => q.p50Delta), (n) => signed(n, 2))} ms (${span(all((q) => q.p50), x)}${direction(all((q) => q.p50Delta))}), ` +
    `p99 by ${span(all((q) => q.p99Delta), (n) => signed(n, 2))} ms (${span(all((q) => q.p99), x)}${direction(all((q) => q.p99Delta))}) ` +
    `and the app's CPU per delivery, both instances together, by ${span(all((q) => q.cpuDelta), (n) => signed(n, 1))} µs (${span(all((q) => q.cpu), x)}${direction(all((q) => q.cpuDelta))}; ` +
    `${span(all((q) => (q.cpuDelta * receivers) / 1000), (n) => signed(n, 2))} ms per message sent to ${receivers} receivers); ` +
    `of (b)'s total, instance B, which only relays and fans out, spent ${span(pairs.map(({ two }) => two.cpuMicrosPerDeliveryEach.at(-1)!), (n) => n.toFixed(1))} µs per delivery.`;
  return `${intro}\n\n${measured}\n\n### What the hop costs: (b) two instances over Redis against (a) one instance\n\n${hop}\n\n${sentence}`;
}

const COLORS: Record<SystemName, string> = {
  'app-ws': '#2563eb',
  'app-sse': '#16a34a',
  'raw-ws': '#93c5fd',
  'raw-sse': '#86efac',
  socketio: '#f59e0b',
  floor: '#9ca3af',
};

/** Two panels of horizontal bars: deliveries per server CPU-second, and p99 latency at half saturation. */
export function chart(r: Results): string {
  const sizes = [...new Set(r.fanout.map((p) => p.receivers))];
  const systems = [...new Set(r.fanout.map((p) => p.system))];
  const barH = 16;
  const groupH = systems.length * (barH + 4) + 28;
  const panelW = 420;
  const labelW = 80;
  const height = 40 + sizes.length * groupH + 20;
  const width = 2 * (labelW + panelW) + 60;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
  ];
  const panels = [
    { title: 'Deliveries per server CPU-second (higher is better)', value: (p: FanoutPoint) => p.deliveriesPerCpuSecond, fmt: k },
    { title: 'p99 one-way latency at half saturation, ms (lower is better)', value: (p: FanoutPoint) => p.latency.p99, fmt: ms },
  ];
  panels.forEach((panel, pi) => {
    const x0 = 20 + pi * (labelW + panelW + 20);
    parts.push(`<text x="${x0}" y="20" font-weight="600">${esc(panel.title)}</text>`);
    sizes.forEach((n, si) => {
      const points = r.fanout.filter((p) => p.receivers === n);
      const max = Math.max(...points.map(panel.value).filter(Number.isFinite), 1e-9);
      const y0 = 40 + si * groupH;
      parts.push(`<text x="${x0}" y="${y0 + 12}" fill="#555">${n} receivers</text>`);
      systems.forEach((s, i) => {
        const p = points.find((q) => q.system === s);
        const y = y0 + 20 + i * (barH + 4);
        const v = p ? panel.value(p) : NaN;
        const w = Number.isFinite(v) ? Math.max(1, (v / max) * (panelW - 60)) : 0;
        parts.push(`<text x="${x0}" y="${y + 12}">${esc(s)}</text>`);
        parts.push(`<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[s]}"/>`);
        parts.push(`<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${y + 12}">${esc(panel.fmt(v))}</text>`);
      });
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function buildReport(r: Results): { markdown: string; svg: string; flakySvg: string; summary: string } {
  const v = verdicts(r);
  const targets = table(['target', 'measured', 'verdict'], v.map((t) => [t.target, t.figure, yes(t.met)]));
  const m = r.meta;
  const markdown = `# Benchmark results

${m.mode === 'smoke' ? '**Smoke run: tiny numbers, for checking that the benchmark works. Not figures.**\n\n' : ''}Run on ${m.date.slice(0, 10)} with \`npm run bench\`: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; ${m.pinned}. Took ${m.durationSeconds} s.

Systems: **app-ws** and **app-sse** are this app in production mode (chat messages in a room over
\`/ws\`, live-blog updates over \`/api/blogs/:id/stream\`; each message is stored in SQLite and
numbered before it is sent); **raw-ws** is \`ws\`'s README broadcast loop; **raw-sse** is a
\`node:http\` server writing \`id:\` and \`data:\`; **socketio** is Socket.IO 4 rooms over its
WebSocket transport; **floor** is a bare \`net\` server writing one prebuilt buffer per receiver.
Latency is one-way, publish to delivery, on one monotonic clock (publisher and receivers share the
load generator process), so it needs no clock-offset correction; it includes the load generator's
own queueing. Bytes come from the receivers' TCP sockets. CPU is the server process's user+system
time over the step. Each point is the median of ${String(m.settings.repeats)} repeats.

## Targets

${targets}

## Fan-out

![fan-out](fanout.svg)

${fanoutSection(r)}

## Idle connections

${idleSection(r)}

## Payload sweep (${String(m.settings.sweepReceivers)} receivers, ${String(m.settings.sweepRate)} messages/s)

${sweepSection(r)}

## Chat room (every participant publishes; each message goes to everyone else)

${chatSection(r)}

## Whiteboard (issue 19: one board, many drawers, many viewers)

${whiteboardSection(r)}

## Stored messages per second (${String(m.settings.storePublishers)} publishers, 100-byte text)

Two layouts. **A room each**: every publisher writes into a room of its own, so a message is
delivered once (its sender's own copy) and the figure is the write path: validate, rate-check,
store and number through the group commit, ack. **One room**: all publishers write into one room;
each is a member (the app takes messages only from members), so each message is also delivered to
all ${String(m.settings.storePublishers)} publishers. A message is acked after its group commit; acks per second is stored
messages per second, and each room's acked seqs over the whole run must be exactly 1..N.

${storeSection(r)}

## Two instances: the Redis hop

${multiSection(r)}

## Flaky networks

${flakySection(r.churn ?? [], r.storm ?? [], m.settings)}
`;
  const board = (r.whiteboard ?? []).map((p) => {
    const io = againstSocketIo(r, p);
    return `  ${p.system} x${p.viewers}: ${lost(p)}, ${k(p.deliveriesPerCpuSecond)} per CPU-s (${x(io.cpu)} socketio), p50 ${ms(p.latency.p50)} / p99 ${ms(p.latency.p99)} ms, ${b(p.wireBytesPerSegment)} wire B/segment`;
  });
  const summary = ['Targets:', ...v.map((t) => `  [${t.met === null ? '--' : t.met ? 'met' : 'MISSED'}] ${t.target}\n        ${t.figure}`), ...(board.length ? ['Whiteboard:', ...board] : [])].join('\n');
  return { markdown, svg: chart(r), flakySvg: flakyChart(r.churn ?? [], r.storm ?? []), summary };
}
