/**
 * `npm run bench`: the app's WebSocket and SSE against raw ws, raw node:http SSE, Socket.IO and a
 * bare net writer, in one run, on this machine. Writes bench/results/{results.json,README.md,
 * fanout.svg}. `--smoke` runs every scenario with tiny numbers (the test suite uses it to keep the
 * benchmark working; it checks delivery, never timing).
 *
 *   node apps/bench/dist/run.js [--smoke] [--out DIR] [--systems app-ws,raw-ws] [--scenarios idle,fanout,sweep,chat,whiteboard,store,multi,churn,storm] [--idle-sizes 1000,10000]
 *       [--churn-clients 2000] [--storm-clients 5000] [--profile DIR]
 *   node apps/bench/dist/run.js --render DIR   (rewrite DIR's README.md, fanout.svg and flaky.svg from its results.json)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { churn, storm } from './flaky-scenarios.js';
import { pinning, repoRoot } from './processes.js';
import { FLAKY_SYSTEMS, SYSTEMS, type SystemName } from './protocol.js';
import { buildReport, type Results } from './report.js';
import { chat, fanout, idle, multi, MULTI_CONFIGS, store, STORE_ENGINES, STORE_LAYOUTS, sweep, whiteboard, type Settings } from './scenarios.js';
import { servicesMissing } from './services.js';

const SCENARIOS = ['idle', 'fanout', 'sweep', 'chat', 'whiteboard', 'store', 'multi', 'churn', 'storm'] as const;
type Scenario = (typeof SCENARIOS)[number];

export const FULL: Omit<Settings, 'log' | 'serverNodeArgs'> = {
  repeats: 3,
  idleSizes: [1000, 5000, 10_000],
  fanoutSizes: [100, 1000],
  startDeliveriesPerSecond: 20_000,
  stepFactor: 1.5,
  maxSteps: 8,
  stepMs: 1000,
  graceMs: 300,
  sweepSizes: [64, 100, 256, 1024, 4096, 16_384],
  sweepReceivers: 100,
  sweepRate: 100,
  sweepMs: 600,
  chatParticipants: 50,
  chatRate: 200,
  chatMs: 1000,
  // Fixed rates, not a search: in a trial on this machine one instance on PostgreSQL kept up with
  // 100 receivers at 100 messages/s (5-7 ms of its CPU per message) and fell behind at 150.
  multiReceivers: 100,
  multiRates: [20, 40],
  multiMs: 5000,
  storePublishers: 8,
  storeStartRate: 2000,
  storeMs: 1000,
  appUsers: 10,
  // Issue 19: ten people drawing at once at a pen's 60 segments a second (the app's per-user
  // limit), watched by 100 and 1,000. At 1,000 that offers 600k deliveries a second, more than
  // Socket.IO relayed in fan-out (about 90k/s): a step waits up to 30 s for the last arrivals, so
  // delivered/expected says what was lost rather than what was late.
  boardDrawers: 10,
  boardRate: 60,
  boardViewers: [100, 1000],
  boardMs: 2000,
  boardGraceMs: 30_000,
  // Flaky networks (issue 17): AnyCable's harness's shape (each client offline about 2 s every
  // about 15 s) at 2,000 clients; a restart under 5,000.
  // 2 messages/s: 4,000 deliveries/s at 2,000 clients (10,000 at 5,000), which one load-generator
  // core keeps up with while it also reconnects 130 clients a second.
  churnClients: 2000,
  churnRate: 2,
  churnMs: 60_000,
  churnPeriodMs: [10_000, 20_000],
  churnOfflineMs: [1000, 3000],
  stormClients: 5000,
  stormRate: 2,
  stormBeforeMs: 3000,
  stormTimeoutMs: 60_000,
  flakyPayloadBytes: 100,
  flakySettleMs: 20_000,
};

export const SMOKE: Omit<Settings, 'log' | 'serverNodeArgs'> = {
  repeats: 1,
  idleSizes: [10, 20],
  fanoutSizes: [5],
  startDeliveriesPerSecond: 200,
  stepFactor: 2,
  maxSteps: 2,
  stepMs: 200,
  // Generous: a cold server must still deliver everything (smoke checks delivery, not speed).
  graceMs: 2000,
  sweepSizes: [100, 1024],
  sweepReceivers: 3,
  sweepRate: 20,
  sweepMs: 200,
  chatParticipants: 4,
  chatRate: 40,
  chatMs: 200,
  multiReceivers: 5,
  multiRates: [20],
  multiMs: 300,
  storePublishers: 2,
  storeStartRate: 100,
  storeMs: 200,
  appUsers: 2,
  boardDrawers: 2,
  boardRate: 60,
  boardViewers: [5],
  boardMs: 500,
  boardGraceMs: 5000,
  churnClients: 6,
  churnRate: 20,
  churnMs: 3000,
  churnPeriodMs: [1000, 1500],
  churnOfflineMs: [200, 500],
  stormClients: 6,
  stormRate: 20,
  stormBeforeMs: 500,
  stormTimeoutMs: 20_000,
  flakyPayloadBytes: 100,
  flakySettleMs: 10_000,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      systems: { type: 'string' },
      scenarios: { type: 'string' },
      profile: { type: 'string' },
      render: { type: 'string' },
      'idle-sizes': { type: 'string' },
      'churn-clients': { type: 'string' },
      'storm-clients': { type: 'string' },
    },
  });
  if (values.render) {
    const dir = resolve(values.render);
    const report = buildReport(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results);
    writeFileSync(join(dir, 'README.md'), report.markdown);
    writeFileSync(join(dir, 'fanout.svg'), report.svg);
    writeFileSync(join(dir, 'flaky.svg'), report.flakySvg);
    console.log(report.summary);
    return;
  }
  const count = (name: 'churn-clients' | 'storm-clients') => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got ${raw}`);
    return n;
  };
  const churnClients = count('churn-clients');
  const stormClients = count('storm-clients');
  const idleSizes = values['idle-sizes']?.split(',').map(Number);
  if (idleSizes?.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--idle-sizes wants positive integers, got ${values['idle-sizes']}`);
  const systems = (values.systems ? values.systems.split(',') : [...SYSTEMS]) as SystemName[];
  for (const s of systems) if (!SYSTEMS.includes(s)) throw new Error(`unknown system ${s} (one of ${SYSTEMS.join(', ')})`);
  const scenarios = (values.scenarios ? values.scenarios.split(',') : [...SCENARIOS]) as Scenario[];
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
  const out = resolve(values.out ?? join(repoRoot, 'bench', 'results'));
  const started = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const settings: Settings = {
    ...(values.smoke ? SMOKE : FULL),
    // --idle-sizes 1000,10000: a short, targeted idle run (connections held at each step).
    ...(idleSizes ? { idleSizes } : {}),
    ...(churnClients ? { churnClients } : {}),
    ...(stormClients ? { stormClients } : {}),
    log,
    // --profile DIR: every server writes a V8 CPU profile there when it stops (open in Chrome DevTools or speedscope).
    serverNodeArgs: values.profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)] : [],
  };

  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      mode: values.smoke ? 'smoke' : 'full',
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      pinned: pinning.available ? `server on core ${pinning.serverCore}, load generator on core ${pinning.loadCore} (taskset)` : 'not pinned (taskset or a second core missing)',
      settings: { ...settings, log: undefined, serverNodeArgs: undefined },
      durationSeconds: 0,
    },
    idle: [],
    fanout: [],
    sweep: [],
    chat: [],
    whiteboard: [],
    multi: [],
    store: [],
    churn: [],
    storm: [],
  };

  if (scenarios.includes('idle')) for (const system of systems) results.idle.push(...(await idle(system, settings)));
  if (scenarios.includes('fanout')) {
    for (const receivers of settings.fanoutSizes) for (const system of systems) results.fanout.push(await fanout(system, receivers, settings));
  }
  if (scenarios.includes('sweep')) for (const system of systems) results.sweep.push(...(await sweep(system, settings)));
  if (scenarios.includes('chat')) {
    // A live blog has one author, so the app's SSE side has no many-publisher room.
    for (const system of systems.filter((s) => s !== 'app-sse')) results.chat.push(await chat(system, settings));
  }
  if (scenarios.includes('whiteboard')) {
    for (const viewers of settings.boardViewers) for (const system of systems) results.whiteboard!.push(await whiteboard(system, viewers, settings));
  }
  if (scenarios.includes('store')) {
    // SQLite always; PostgreSQL when the machine has it (skipped with a warning otherwise, failing under CI).
    const missing = await servicesMissing();
    for (const engine of STORE_ENGINES) {
      if (engine === 'postgres' && missing) {
        console.warn(`WARNING: skipping the stored-messages scenario on PostgreSQL: ${missing}`);
        continue;
      }
      for (const layout of STORE_LAYOUTS) results.store!.push(await store(engine, layout, settings));
    }
  }
  if (scenarios.includes('multi')) {
    // Needs the machine's PostgreSQL and Redis: skipped with a warning without them (fails under CI).
    const missing = await servicesMissing();
    if (missing) {
      console.warn(`WARNING: skipping the two-instance scenario: ${missing}`);
      results.multiSkipped = missing;
    } else {
      for (const config of MULTI_CONFIGS) results.multi!.push(...(await multi(config, settings)));
    }
  }
  // Flaky networks: the app's two transports, Socket.IO with recovery, raw ws (no recovery).
  const flaky = FLAKY_SYSTEMS.filter((f) => systems.includes(f));
  if (scenarios.includes('churn')) for (const system of flaky) results.churn!.push(await churn(system, settings));
  if (scenarios.includes('storm')) for (const system of flaky) results.storm!.push(await storm(system, settings));
  results.meta.durationSeconds = Math.round((Date.now() - started) / 1000);

  const report = buildReport(results);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(out, 'README.md'), report.markdown);
  writeFileSync(join(out, 'fanout.svg'), report.svg);
  writeFileSync(join(out, 'flaky.svg'), report.flakySvg);
  console.log('\n' + report.summary);
  log(`wrote ${join(out, 'README.md')}, results.json, fanout.svg and flaky.svg`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
