/**
 * The scenarios. Each starts a fresh server and a fresh load generator per system (so one
 * scenario's leftovers, a 10k-connection heap or a backlog, cannot skew the next), drives the
 * server from the load generator and reads its CPU and memory through its agent. Every point is
 * measured `repeats` times and the median is kept.
 */
import { randomBytes } from 'node:crypto';
import { LoadProcess, ServerProcess } from './processes.js';
import type { BoardStepResult, StepResult, StoreResult, SystemName, Target } from './protocol.js';
import type { FlakySettings } from './flaky-scenarios.js';
import { freshDatabase, freshRedisPrefix, REDIS_URL, redisCpuMicros } from './services.js';

export interface Settings extends FlakySettings {
  repeats: number;
  idleSizes: number[];
  fanoutSizes: number[];
  /** Fan-out search: first offered rate, in deliveries per second, and the factor between steps. */
  startDeliveriesPerSecond: number;
  stepFactor: number;
  maxSteps: number;
  stepMs: number;
  graceMs: number;
  sweepSizes: number[];
  sweepReceivers: number;
  sweepRate: number;
  sweepMs: number;
  chatParticipants: number;
  chatRate: number;
  chatMs: number;
  /** Two instances: receivers, the fixed offered rates (messages/s) and each step's length. */
  multiReceivers: number;
  multiRates: number[];
  multiMs: number;
  /** Stored messages per second: publishers, the first offered rate (messages/s), each step's length. */
  storePublishers: number;
  storeStartRate: number;
  storeMs: number;
  /** Users the app's connections are spread over (each user holds many sockets). */
  appUsers: number;
  /** Whiteboard: drawers in one board (each its own user), segments a second each, viewer counts, step length, grace for the last arrivals. */
  boardDrawers: number;
  boardRate: number;
  boardViewers: number[];
  boardMs: number;
  boardGraceMs: number;
  log: (line: string) => void;
  /** Extra node flags for every server (profiling). */
  serverNodeArgs: string[];
}

export const median = (values: number[]): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** A step that delivered (nearly) everything it offered within the grace period, with no refused publish. */
export const keptUp = (r: StepResult): boolean => r.errors === 0 && r.delivered >= 0.99 * r.expected;

async function withServer<T>(system: SystemName, fn: (load: LoadProcess, server: ServerProcess, target: Target) => Promise<T>, s: Settings, users = s.appUsers): Promise<T> {
  const server = await ServerProcess.start(system, s.serverNodeArgs);
  const load = LoadProcess.start();
  try {
    return await fn(load, server, await server.prepare(users));
  } finally {
    await load.stop();
    await server.stop();
  }
}

/** One measured step: the load generator's result and the server's CPU over it. */
export interface Measured extends StepResult {
  rate: number;
  serverCpuMs: number;
  serverCpuMsEach?: number[];
}

/** Deliveries per second over a step (the publishing time, or longer if delivery ran on). */
const perSecond = (m: Measured, stepMs: number) => m.delivered / (Math.max(stepMs, m.elapsedMs) / 1000);
/** Deliveries per second of the server's CPU time. */
const perCpuSecond = (m: Measured) => m.delivered / (m.serverCpuMs / 1000);
/** Each latency percentile's median over the repeats. */
const medianLatency = (runs: Measured[]) => ({
  p50: median(runs.map((m) => m.latency.p50)),
  p95: median(runs.map((m) => m.latency.p95)),
  p99: median(runs.map((m) => m.latency.p99)),
  max: median(runs.map((m) => m.latency.max)),
});

/** Each server's CPU time so far, microseconds. */
const cpuMicros = (servers: ServerProcess[]) => Promise.all(servers.map(async (server) => (await server.stats()).cpuMicros));

/** One fan-out step (`step` in the load generator) and the server CPU over it. */
async function measure(load: LoadProcess, server: ServerProcess | ServerProcess[], rate: number, durationMs: number, payloadBytes: number, graceMs: number): Promise<Measured> {
  return measured(server, rate, async () => (await load.send({ cmd: 'step', rate, durationMs, payloadBytes, graceMs })).result!);
}

/**
 * The server CPU over one step that `run` drives from the load generator. With several servers
 * (instances of one deployment), `serverCpuMs` is their sum and `serverCpuMsEach` each one's.
 */
async function measured<R extends StepResult>(server: ServerProcess | ServerProcess[], rate: number, run: () => Promise<R>): Promise<R & Measured> {
  const servers = Array.isArray(server) ? server : [server];
  const before = await cpuMicros(servers);
  const result = await run();
  const after = await cpuMicros(servers);
  const each = after.map((micros, i) => (micros - before[i]!) / 1000);
  return { ...result, rate, serverCpuMs: each.reduce((a, b) => a + b, 0), ...(servers.length > 1 ? { serverCpuMsEach: each } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Idle capacity

export interface IdlePoint {
  system: SystemName;
  connections: number;
  rssPerConnection: number;
  heapPerConnection: number;
  rss: number;
  heapUsed: number;
  /** Server CPU spent opening the connections of this step (handshake, auth, registry, hello), per connection, µs. */
  setupCpuMicrosPerConnection: number;
}

export async function idle(system: SystemName, s: Settings): Promise<IdlePoint[]> {
  return withServer(
    system,
    async (load, server, target) => {
      // Warm up: open and close a few connections so lazily created pools exist before the baseline.
      await load.send({ cmd: 'open', target, count: 50, role: 'idle', concurrency: 25 });
      await load.send({ cmd: 'close' });
      await new Promise((r) => setTimeout(r, 300));
      const base = await server.stats(true);
      const points: IdlePoint[] = [];
      let open = 0;
      for (const size of s.idleSizes) {
        // CPU around the opening only (no GC requested in these two samples).
        const cpuBefore = (await server.stats(false)).cpuMicros;
        await load.send({ cmd: 'open', target, count: size - open, role: 'idle', concurrency: 100 });
        const setupCpuMicrosPerConnection = ((await server.stats(false)).cpuMicros - cpuBefore) / (size - open);
        open = size;
        await new Promise((r) => setTimeout(r, 500));
        const samples = [];
        for (let i = 0; i < s.repeats; i++) samples.push(await server.stats(true));
        const rss = median(samples.map((m) => m.rss));
        const heapUsed = median(samples.map((m) => m.heapUsed + m.external));
        points.push({
          system,
          connections: size,
          rss,
          heapUsed,
          rssPerConnection: (rss - base.rss) / size,
          heapPerConnection: (heapUsed - base.heapUsed - base.external) / size,
          setupCpuMicrosPerConnection,
        });
        s.log(`idle ${system} ${size}: ${(points.at(-1)!.rssPerConnection / 1024).toFixed(1)} KiB RSS, ${(points.at(-1)!.heapPerConnection / 1024).toFixed(1)} KiB heap, ${setupCpuMicrosPerConnection.toFixed(0)} µs setup CPU per connection`);
      }
      await load.send({ cmd: 'close' });
      return points;
    },
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// Fan-out: one publisher, N receivers, rate stepped up until delivery falls behind

export interface FanoutPoint {
  system: SystemName;
  receivers: number;
  /** Every step of the search, in order. */
  steps: Measured[];
  /** The highest offered rate (messages/s) that kept up. */
  saturationRate: number;
  /** Median over repeats at the saturation rate. */
  deliveriesPerSecond: number;
  deliveriesPerCpuSecond: number;
  /** Median over repeats at half the saturation rate, milliseconds. */
  latency: { rate: number; p50: number; p95: number; p99: number; max: number };
  /** Every message reached every receiver in every repeat. */
  complete: boolean;
  repeats: { saturation: Measured[]; half: Measured[] };
}

export async function fanout(system: SystemName, receivers: number, s: Settings): Promise<FanoutPoint> {
  return withServer(
    system,
    async (load, server, target) => {
      await load.send({ cmd: 'open', target, count: receivers, role: 'sub', concurrency: 100 });
      await load.send({ cmd: 'publishers', target, count: 1 });
      // Warm-up: the JIT, the servers' buffers and the app's database, at a tenth and then half of
      // the first step (the search stops at the first step that falls behind, so a cold server
      // would be judged on its cold start).
      await measure(load, server, Math.max(1, s.startDeliveriesPerSecond / receivers / 10), s.stepMs, 100, s.graceMs * 4);
      await measure(load, server, Math.max(1, s.startDeliveriesPerSecond / receivers / 2), s.stepMs * 2, 100, s.graceMs * 4);

      const steps: Measured[] = [];
      let rate = s.startDeliveriesPerSecond / receivers;
      let saturationRate = 0;
      for (let i = 0; i < s.maxSteps; i++) {
        const step = await measure(load, server, rate, s.stepMs, 100, s.graceMs);
        steps.push(step);
        s.log(`fanout ${system} x${receivers} @${rate.toFixed(0)}/s: ${step.delivered}/${step.expected} delivered, ${(perCpuSecond(step) / 1000).toFixed(1)}k per CPU-s, p99 ${step.latency.p99.toFixed(1)} ms`);
        if (!keptUp(step)) {
          // Let the backlog drain before the next measurement.
          await load.send({ cmd: 'step', rate: 1, durationMs: 1, payloadBytes: 100, graceMs: 5000 });
          break;
        }
        saturationRate = rate;
        rate *= s.stepFactor;
      }
      if (saturationRate === 0) saturationRate = (s.startDeliveriesPerSecond / receivers) / s.stepFactor;

      const saturation: Measured[] = [];
      const half: Measured[] = [];
      for (let i = 0; i < s.repeats; i++) saturation.push(await measure(load, server, saturationRate, s.stepMs, 100, s.graceMs * 4));
      for (let i = 0; i < s.repeats; i++) half.push(await measure(load, server, saturationRate / 2, s.stepMs, 100, s.graceMs * 4));
      await load.send({ cmd: 'close' });
      return {
        system,
        receivers,
        steps,
        saturationRate,
        deliveriesPerSecond: median(saturation.map((m) => perSecond(m, s.stepMs))),
        deliveriesPerCpuSecond: median(saturation.map(perCpuSecond)),
        latency: { rate: saturationRate / 2, ...medianLatency(half) },
        complete: [...saturation, ...half].every((m) => m.delivered === m.expected),
        repeats: { saturation, half },
      };
    },
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// Payload sweep: bytes on the wire and CPU per delivery, 64 B to 16 KiB

export interface SweepPoint {
  system: SystemName;
  payloadBytes: number;
  /** Per delivered message, medians over repeats. */
  wireBytes: number;
  /** The message as the client got it: the WebSocket frame's text, the SSE event's text. */
  textBytes: number;
  /** Header + text of every delivered WebSocket frame, or the SSE event text: the wire minus this is what no message accounts for. */
  frameBytes: number;
  /** The SSE `data:` value (for the others the same as textBytes). */
  dataBytes: number;
  cpuMicrosPerDelivery: number;
  /** The wire carried exactly the delivered frames' bytes (header + text), nothing else, in every repeat. */
  exact: boolean;
  complete: boolean;
}

export async function sweep(system: SystemName, s: Settings): Promise<SweepPoint[]> {
  return withServer(
    system,
    async (load, server, target) => {
      await load.send({ cmd: 'open', target, count: s.sweepReceivers, role: 'sub', concurrency: 100 });
      await load.send({ cmd: 'publishers', target, count: 1 });
      await measure(load, server, s.sweepRate, s.sweepMs, 100, s.graceMs * 4);
      const points: SweepPoint[] = [];
      for (const size of s.sweepSizes) {
        const runs: Measured[] = [];
        for (let i = 0; i < s.repeats; i++) runs.push(await measure(load, server, s.sweepRate, s.sweepMs, size, s.graceMs * 10));
        const per = (f: (m: Measured) => number) => median(runs.map((m) => f(m) / Math.max(1, m.delivered)));
        points.push({
          system,
          payloadBytes: size,
          wireBytes: per((m) => m.wireBytes),
          textBytes: per((m) => m.textBytes),
          frameBytes: per((m) => m.frameBytes),
          dataBytes: per((m) => m.dataBytes),
          cpuMicrosPerDelivery: per((m) => m.serverCpuMs * 1000),
          exact: runs.every((m) => m.wireBytes === m.frameBytes && m.otherMessages === 0),
          complete: runs.every((m) => m.delivered === m.expected),
        });
        s.log(`sweep ${system} ${size} B: ${points.at(-1)!.wireBytes.toFixed(1)} wire B/msg, ${points.at(-1)!.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery`);
      }
      await load.send({ cmd: 'close' });
      return points;
    },
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// A chat room: every participant publishes and receives everyone else's messages

export interface ChatPoint {
  system: SystemName;
  participants: number;
  rate: number;
  deliveriesPerSecond: number;
  deliveriesPerCpuSecond: number;
  latency: { p50: number; p95: number; p99: number; max: number };
  complete: boolean;
}

export async function chat(system: SystemName, s: Settings): Promise<ChatPoint> {
  return withServer(
    system,
    async (load, server, target) => {
      await load.send({ cmd: 'open', target, count: s.chatParticipants, role: 'both', concurrency: 50 });
      await measure(load, server, s.chatRate / 4, s.chatMs, 100, s.graceMs * 4);
      const runs: Measured[] = [];
      for (let i = 0; i < s.repeats; i++) runs.push(await measure(load, server, s.chatRate, s.chatMs, 100, s.graceMs * 4));
      await load.send({ cmd: 'close' });
      const point: ChatPoint = {
        system,
        participants: s.chatParticipants,
        rate: s.chatRate,
        deliveriesPerSecond: median(runs.map((m) => perSecond(m, s.chatMs))),
        deliveriesPerCpuSecond: median(runs.map(perCpuSecond)),
        latency: medianLatency(runs),
        complete: runs.every((m) => m.delivered === m.expected),
      };
      s.log(`chat ${system} x${s.chatParticipants} @${s.chatRate}/s: p99 ${point.latency.p99.toFixed(1)} ms, ${(point.deliveriesPerCpuSecond / 1000).toFixed(1)}k per CPU-s`);
      return point;
    },
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// A whiteboard: drawers at a pen's rate into one board, watched by many viewers

export interface WhiteboardPoint {
  system: SystemName;
  drawers: number;
  viewers: number;
  /** Segments a second each drawer sends (the board gets drawers x this). */
  rate: number;
  /** Summed over the repeats: segments sent, deliveries expected (segments x viewers) and delivered, lost and duplicated, segments refused. */
  sent: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  errors: number;
  /** Medians over the repeats. */
  deliveriesPerSecond: number;
  deliveriesPerCpuSecond: number;
  /** The drawer's send to the viewer's receipt, ms (medians of each repeat's percentiles). */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Bytes the viewers' sockets read per delivered segment. */
  wireBytesPerSegment: number;
  /** Points per segment sent (the same segments for every system: the pens are seeded). */
  pointsPerSegment: number;
  /** Every segment reached every viewer once in every repeat, none refused. */
  complete: boolean;
  repeats: (BoardStepResult & Measured)[];
}

/**
 * `boardDrawers` drawers (the app's each a user of their own) send `boardRate` segments a second
 * each into one board for `boardMs`, strokes of 60 segments of 4 to 8 points; `viewers` watch.
 * The app stores every segment through its group commit and sends the entry; Socket.IO and the
 * raw relays pass the segment on unstored. A warm-up step first, then `repeats` steps.
 */
export async function whiteboard(system: SystemName, viewers: number, s: Settings): Promise<WhiteboardPoint> {
  return withServer(
    system,
    async (load, server, target) => {
      // The drawers first: the app's SSE viewers need the room's id, which a drawer's join tells.
      await load.send({ cmd: 'board-drawers', target, count: s.boardDrawers });
      await load.send({ cmd: 'board-viewers', target, count: viewers, concurrency: 100 });
      const step = (durationMs: number) => measured(server, s.boardRate, async () => (await load.send({ cmd: 'board-step', rate: s.boardRate, durationMs, graceMs: s.boardGraceMs })).board!);
      await step(Math.max(200, s.boardMs / 2));
      const runs: (BoardStepResult & Measured)[] = [];
      for (let i = 0; i < s.repeats; i++) runs.push(await step(s.boardMs));
      await load.send({ cmd: 'close' });
      const sum = (f: (m: BoardStepResult) => number) => runs.reduce((t, m) => t + f(m), 0);
      const point: WhiteboardPoint = {
        system,
        drawers: s.boardDrawers,
        viewers,
        rate: s.boardRate,
        sent: sum((m) => m.sent),
        expected: sum((m) => m.expected),
        delivered: sum((m) => m.delivered),
        lost: sum((m) => m.lost),
        duplicated: sum((m) => m.duplicated),
        errors: sum((m) => m.errors),
        deliveriesPerSecond: median(runs.map((m) => perSecond(m, s.boardMs))),
        deliveriesPerCpuSecond: median(runs.map(perCpuSecond)),
        latency: medianLatency(runs),
        wireBytesPerSegment: median(runs.map((m) => m.wireBytes / Math.max(1, m.delivered))),
        pointsPerSegment: sum((m) => m.points) / Math.max(1, sum((m) => m.sent)),
        complete: runs.every((m) => m.errors === 0 && m.lost === 0 && m.duplicated === 0 && m.delivered === m.expected),
        repeats: runs,
      };
      s.log(
        `whiteboard ${system} ${s.boardDrawers} drawers x${viewers} viewers @${s.boardRate}/s each: ${point.delivered}/${point.expected} delivered, ${(point.deliveriesPerCpuSecond / 1000).toFixed(1)}k per CPU-s, p50 ${point.latency.p50.toFixed(1)} / p99 ${point.latency.p99.toFixed(1)} ms, ${point.wireBytesPerSegment.toFixed(1)} wire B/segment`,
      );
      return point;
    },
    s,
    Math.max(s.appUsers, s.boardDrawers),
  );
}

// ---------------------------------------------------------------------------------------------
// Two instances: what the Redis hop costs the app's WebSocket fan-out

/**
 * The deployments compared, all on PostgreSQL: `one`, one instance with the in-process bus;
 * `two-redis`, two instances and Redis, the publisher's socket on A and every receiver on B, so
 * every delivery crosses Redis; `one-redis`, one instance with the Redis bus (local delivery at
 * once, plus a PUBLISH that comes back to the instance itself and is dropped).
 */
export const MULTI_CONFIGS = ['one', 'two-redis', 'one-redis'] as const;
export type MultiConfig = (typeof MULTI_CONFIGS)[number];
const DEPLOYMENTS: Record<MultiConfig, { instances: number; redis: boolean }> = {
  one: { instances: 1, redis: false },
  'two-redis': { instances: 2, redis: true },
  'one-redis': { instances: 1, redis: true },
};

/** One measured step, plus Redis's own CPU over it (when the deployment uses Redis). */
export interface MultiMeasured extends Measured {
  redisCpuMs?: number;
}

export interface MultiPoint {
  config: MultiConfig;
  instances: number;
  redis: boolean;
  receivers: number;
  /** Offered rate, messages per second. */
  rate: number;
  /** Summed over the repeats. */
  sent: number;
  expected: number;
  delivered: number;
  errors: number;
  /** Medians over the repeats, milliseconds. */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** CPU of every app instance, summed, per delivery (µs, median over the repeats). */
  cpuMicrosPerDelivery: number;
  /** The same per instance (A, then B). */
  cpuMicrosPerDeliveryEach: number[];
  /** The Redis server's CPU per delivery (µs), or null without Redis. */
  redisCpuMicrosPerDelivery: number | null;
  complete: boolean;
  repeats: MultiMeasured[];
}

/**
 * Starts a deployment on a fresh database (and Redis prefix): its instances (all pinned to the
 * server core, so they share it as one instance has it alone) share a JWT secret, so the sessions
 * made on A open sockets on B. `fn` gets the publisher's target (A) and the receivers' (the last
 * instance). Everything is stopped, dropped and deleted afterwards.
 */
async function withDeployment<T>(config: MultiConfig, s: Settings, fn: (load: LoadProcess, servers: ServerProcess[], publisher: Target, receivers: Target) => Promise<T>): Promise<T> {
  const { instances, redis } = DEPLOYMENTS[config];
  const db = await freshDatabase();
  const bus = redis ? freshRedisPrefix() : undefined;
  const env = { DATABASE_URL: db.url, JWT_SECRET: randomBytes(36).toString('base64url'), ...(bus ? { REDIS_URL, REDIS_KEY_PREFIX: bus.prefix } : {}) };
  const servers: ServerProcess[] = [];
  let load: LoadProcess | undefined;
  try {
    // One after the other: the first applies the migrations, the next finds them applied.
    for (let i = 0; i < instances; i++) servers.push(await ServerProcess.start('app-ws', s.serverNodeArgs, { ...env, INSTANCE_ID: `bench-${'ab'[i]}` }));
    const publisher = await servers[0]!.prepare(s.appUsers);
    load = LoadProcess.start();
    return await fn(load, servers, publisher, { ...publisher, port: servers.at(-1)!.port });
  } finally {
    await load?.stop();
    await Promise.all(servers.map((server) => server.stop()));
    await db.drop();
    await bus?.clear();
  }
}

export async function multi(config: MultiConfig, s: Settings): Promise<MultiPoint[]> {
  const { instances, redis } = DEPLOYMENTS[config];
  return withDeployment(config, s, async (load, servers, publisher, receivers) => {
    // Each user's first join, then a pause, then the crowd: on PostgreSQL two sockets of one user
    // joining a room at once race on the membership row (Prisma's upsert is not atomic there; the
    // loser is joined but gets an `error` frame and a logged stack). The row is written after
    // `joined` is sent, hence the pause. Not what this scenario measures.
    const first = Math.min(s.appUsers, s.multiReceivers);
    await load.send({ cmd: 'open', target: receivers, count: first, role: 'sub', concurrency: first });
    await new Promise((r) => setTimeout(r, 500));
    await load.send({ cmd: 'open', target: receivers, count: s.multiReceivers - first, role: 'sub', concurrency: 100 });
    await load.send({ cmd: 'publishers', target: publisher, count: 1 });
    const step = async (rate: number, graceMs: number): Promise<MultiMeasured> => {
      const before = redis ? await redisCpuMicros() : 0;
      const m = await measure(load, servers, rate, s.multiMs, 100, graceMs);
      return redis ? { ...m, redisCpuMs: ((await redisCpuMicros()) - before) / 1000 } : m;
    };
    // Warm-up: the JIT, the database's connections and plans, B's subscription.
    for (const rate of s.multiRates) await step(rate, s.graceMs * 4);

    const points: MultiPoint[] = [];
    for (const rate of s.multiRates) {
      const runs: MultiMeasured[] = [];
      for (let i = 0; i < s.repeats; i++) runs.push(await step(rate, s.graceMs * 4));
      const perDelivery = (f: (m: MultiMeasured) => number) => median(runs.map((m) => (f(m) * 1000) / Math.max(1, m.delivered)));
      const sum = (f: (m: MultiMeasured) => number) => runs.reduce((t, m) => t + f(m), 0);
      const point: MultiPoint = {
        config,
        instances,
        redis,
        receivers: s.multiReceivers,
        rate,
        sent: sum((m) => m.sent),
        expected: sum((m) => m.expected),
        delivered: sum((m) => m.delivered),
        errors: sum((m) => m.errors),
        latency: medianLatency(runs),
        cpuMicrosPerDelivery: perDelivery((m) => m.serverCpuMs),
        cpuMicrosPerDeliveryEach: servers.map((_, i) => perDelivery((m) => m.serverCpuMsEach?.[i] ?? m.serverCpuMs)),
        redisCpuMicrosPerDelivery: redis ? perDelivery((m) => m.redisCpuMs ?? NaN) : null,
        complete: runs.every((m) => m.errors === 0 && m.delivered === m.expected),
        repeats: runs,
      };
      points.push(point);
      s.log(`multi ${config} x${s.multiReceivers} @${rate}/s: ${point.delivered}/${point.expected} delivered, p50 ${point.latency.p50.toFixed(2)} ms, p99 ${point.latency.p99.toFixed(2)} ms, ${point.cpuMicrosPerDelivery.toFixed(1)} µs app CPU per delivery`);
    }
    await load.send({ cmd: 'close' });
    return points;
  });
}

// ---------------------------------------------------------------------------------------------
// Stored messages per second: one room, many publishers, nothing else listening

export const STORE_ENGINES = ['sqlite', 'postgres'] as const;
export type StoreEngine = (typeof STORE_ENGINES)[number];

export interface StoreMeasured extends StoreResult {
  rate: number;
  serverCpuMs: number;
}

/** Where the store scenario's publishers write: all into one room, or each into a room of its own. */
export type StoreLayout = 'one-room' | 'room-each';
export const STORE_LAYOUTS: readonly StoreLayout[] = ['room-each', 'one-room'];

export interface StorePoint {
  engine: StoreEngine;
  layout: StoreLayout;
  publishers: number;
  rooms: number;
  steps: StoreMeasured[];
  /** The highest offered rate (messages/s) whose messages were all acked in time. */
  saturationRate: number;
  /** Median over repeats at the saturation rate: acks (stored messages) per second of wall time and per server CPU-second. */
  storedPerSecond: number;
  storedPerCpuSecond: number;
  cpuMicrosPerMessage: number;
  /** Send to ack at half the saturation rate, milliseconds. */
  latency: { rate: number; p50: number; p95: number; p99: number; max: number };
  /** Every message acked exactly once and the acked seqs are exactly 1..N over the whole run. */
  gapless: boolean;
  complete: boolean;
}

const storeKeptUp = (m: StoreMeasured) => m.errors === 0 && m.acked >= 0.99 * m.sent;

async function measureStore(load: LoadProcess, server: ServerProcess, rate: number, s: Settings, graceMs: number): Promise<StoreMeasured> {
  const before = (await server.stats()).cpuMicros;
  const reply = await load.send({ cmd: 'store-step', rate, durationMs: s.storeMs, payloadBytes: 100, graceMs });
  const after = (await server.stats()).cpuMicros;
  return { ...reply.store!, rate, serverCpuMs: (after - before) / 1000 };
}

/**
 * The app's chat write path: `storePublishers` sockets (spread over the bench users) send 100-byte
 * messages; each is validated, rate-checked, stored and numbered through the group commit, acked,
 * and broadcast to the room's readers. `room-each`: every publisher writes into a room of its own
 * (the storage path, with one delivery per message, the sender's own copy); `one-room`: all into
 * one room, so each message also goes to every publisher (the app has no write-only membership).
 * The offered rate steps up until acks fall behind.
 */
export async function store(engine: StoreEngine, layout: StoreLayout, s: Settings): Promise<StorePoint> {
  const db = engine === 'postgres' ? await freshDatabase() : undefined;
  const server = await ServerProcess.start('app-ws', s.serverNodeArgs, db ? { DATABASE_URL: db.url } : {});
  const load = LoadProcess.start();
  try {
    const target = await server.prepare(s.appUsers);
    const rooms = layout === 'one-room' ? [target.room!] : Array.from({ length: s.storePublishers }, (_, i) => `store-${i}`);
    if (layout === 'room-each') await server.createRooms(target, rooms);
    await load.send({ cmd: 'store-publishers', target, count: s.storePublishers, rooms });
    await measureStore(load, server, s.storeStartRate / 10, s, s.graceMs * 4);
    await measureStore(load, server, s.storeStartRate / 2, s, s.graceMs * 4);
    const steps: StoreMeasured[] = [];
    let rate = s.storeStartRate;
    let saturationRate = 0;
    for (let i = 0; i < s.maxSteps; i++) {
      const step = await measureStore(load, server, rate, s, s.graceMs);
      steps.push(step);
      s.log(`store ${engine} ${layout} x${s.storePublishers} @${rate.toFixed(0)}/s: ${step.acked}/${step.sent} acked, ${((step.acked / step.serverCpuMs) * 1000).toFixed(0)} per CPU-s, ack p99 ${step.latency.p99.toFixed(1)} ms`);
      if (!storeKeptUp(step)) {
        await measureStore(load, server, 1, s, 10_000); // let the backlog drain
        break;
      }
      saturationRate = rate;
      rate *= s.stepFactor;
    }
    if (saturationRate === 0) saturationRate = s.storeStartRate / s.stepFactor;
    const saturation: StoreMeasured[] = [];
    const half: StoreMeasured[] = [];
    for (let i = 0; i < s.repeats; i++) saturation.push(await measureStore(load, server, saturationRate, s, s.graceMs * 4));
    for (let i = 0; i < s.repeats; i++) half.push(await measureStore(load, server, saturationRate / 2, s, s.graceMs * 4));
    const last = half.at(-1)!;
    await load.send({ cmd: 'close' });
    return {
      engine,
      layout,
      publishers: s.storePublishers,
      rooms: rooms.length,
      steps,
      saturationRate,
      storedPerSecond: median(saturation.map((m) => m.acked / (Math.max(s.storeMs, m.elapsedMs) / 1000))),
      storedPerCpuSecond: median(saturation.map((m) => m.acked / (m.serverCpuMs / 1000))),
      cpuMicrosPerMessage: median(saturation.map((m) => (m.serverCpuMs * 1000) / Math.max(1, m.acked))),
      latency: {
        rate: saturationRate / 2,
        p50: median(half.map((m) => m.latency.p50)),
        p95: median(half.map((m) => m.latency.p95)),
        p99: median(half.map((m) => m.latency.p99)),
        max: median(half.map((m) => m.latency.max)),
      },
      gapless: last.gapless,
      complete: [...saturation, ...half].every((m) => m.errors === 0 && m.acked === m.sent),
    };
  } finally {
    await load.stop();
    await server.stop();
    await db?.drop();
  }
}
