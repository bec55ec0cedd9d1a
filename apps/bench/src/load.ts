/**
 * The load generator: a separate process (pinned to its own core by the orchestrator) that holds
 * every client connection of a run, publishes at a set rate and times each delivery. Publisher
 * and receivers share this process, so send and receive times come from one monotonic clock
 * (process.hrtime, CLOCK_MONOTONIC) and need no offset correction; the figure includes this
 * process's own queueing, as any client's would.
 */
import { openPublisher, openReceiver, type Connection, type Publisher } from './clients.js';
import type { LoadCommand, LoadReply, StepResult, Target } from './protocol.js';
import { drain, nowMicros, pace } from './pace.js';
import { emptyTally, stepResult, tallyDelivery, type Tally } from './stats.js';
import { churn, closeFlaky, openFlaky, progress, settle, watchLive } from './flaky.js';
import { FlakyPublisher } from './flaky-publisher.js';
import { closeBoard, openDrawers, openViewers, runBoardStep } from './board.js';
import { closeStorePublishers, openStorePublishers, runStoreStep } from './store.js';

/** Starts every payload's stamp. Not '@', which would make each chat message a mention (an extra lookup the other systems do not do). */
const MARK = '~~';


/** `~~<send time µs>;<publisher>;` padded with `x` to exactly `bytes` (at least the header). */
export function makePayload(bytes: number, publisher: number): string {
  const head = `${MARK}${nowMicros()};${publisher};`;
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

interface Receiver {
  connection: Connection & Partial<Publisher>;
  index: number;
}

const receivers: Receiver[] = [];
const publishers: Publisher[] = [];
/** Chat participants publish as well as receive; fan-out uses dedicated publishers. */
let participants = false;

let step: Tally = emptyTally();
let publishErrors = 0;
let flakyPublisher: FlakyPublisher | undefined;

function onMessage(receiver: number, text: string, frameBytes: number, dataBytes: number): void {
  const at = text.indexOf(MARK);
  if (at < 0) {
    step.other++;
    return;
  }
  const t = text.indexOf(';', at);
  const sentMicros = Number(text.slice(at + 2, t));
  const publisher = Number(text.slice(t + 1, text.indexOf(';', t + 1)));
  if (participants && publisher === receiver) return; // a chat participant's own message echoed back
  tallyDelivery(step, sentMicros, nowMicros(), Buffer.byteLength(text), frameBytes, dataBytes);
}

async function open(target: Target, count: number, role: 'sub' | 'both' | 'idle', concurrency: number): Promise<number> {
  participants = role === 'both';
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = receivers.length + next++;
      const connection = await openReceiver(target, index, role, (text, bytes, data) => onMessage(index, text, bytes, data), () => step.other++);
      receivers.push({ connection, index });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return receivers.length;
}

function bytesRead(): number {
  let total = 0;
  for (const r of receivers) total += r.connection.bytesRead();
  return total;
}

async function runStep(rate: number, durationMs: number, payloadBytes: number, graceMs: number): Promise<StepResult> {
  const senders: { publish(p: string): void; index: number }[] = participants
    ? receivers.map((r) => ({ publish: r.connection.publish!, index: r.index }))
    : publishers.map((p, i) => ({ publish: (payload: string) => p.publish(payload), index: -1 - i }));
  if (senders.length === 0) throw new Error('no publishers');
  const recipientsPerMessage = participants ? receivers.length - 1 : receivers.length;
  step = emptyTally();
  publishErrors = 0;
  const bytesBefore = bytesRead();
  const start = nowMicros();
  const sent = Math.max(1, Math.round((rate * durationMs) / 1000));
  await pace(rate, sent, (n) => {
    const sender = senders[n % senders.length]!;
    sender.publish(makePayload(payloadBytes, sender.index));
  });
  const expected = sent * recipientsPerMessage;
  await drain(() => step.delivered + publishErrors * recipientsPerMessage >= expected, graceMs);
  return stepResult(step, { sent, expected, errors: publishErrors, wireBytes: bytesRead() - bytesBefore }, start, nowMicros());
}

function closeAll(): void {
  for (const r of receivers) r.connection.close();
  for (const p of publishers) p.close();
  receivers.length = 0;
  publishers.length = 0;
}

async function handle(command: LoadCommand): Promise<LoadReply> {
  switch (command.cmd) {
    case 'open':
      return { id: command.id, ok: true, opened: await open(command.target, command.count, command.role, command.concurrency) };
    case 'publishers':
      for (let i = 0; i < command.count; i++) publishers.push(await openPublisher(command.target, i, () => publishErrors++));
      return { id: command.id, ok: true, opened: publishers.length };
    case 'step':
      return { id: command.id, ok: true, result: await runStep(command.rate, command.durationMs, command.payloadBytes, command.graceMs) };
    case 'board-drawers':
      return { id: command.id, ok: true, opened: await openDrawers(command.target, command.count) };
    case 'board-viewers':
      return { id: command.id, ok: true, opened: await openViewers(command.target, command.count, command.concurrency) };
    case 'board-step':
      return { id: command.id, ok: true, board: await runBoardStep(command.rate, command.durationMs, command.graceMs) };
    case 'store-publishers':
      return { id: command.id, ok: true, opened: await openStorePublishers(command.target, command.count, command.rooms) };
    case 'store-step':
      return { id: command.id, ok: true, store: await runStoreStep(command.rate, command.durationMs, command.payloadBytes, command.graceMs) };
    case 'flaky-open':
      return { id: command.id, ok: true, opened: await openFlaky(command.system, command.target, command.count, command.concurrency) };
    case 'flaky-churn':
      await churn(command.durationMs, command.periodMs, command.offlineMs);
      return { id: command.id, ok: true };
    case 'flaky-watch':
      watchLive(command.t0);
      return { id: command.id, ok: true };
    case 'flaky-progress':
      return { id: command.id, ok: true, progress: progress() };
    case 'flaky-settle':
      return { id: command.id, ok: true, flaky: await settle(command.published, command.timeoutMs, command.t0) };
    case 'pub-start':
      flakyPublisher = new FlakyPublisher(command.system, command.target, command.payloadBytes);
      await flakyPublisher.start(command.rate);
      return { id: command.id, ok: true };
    case 'pub-stop': {
      const published = (await flakyPublisher?.stop(command.graceMs)) ?? [];
      const publishFailures = flakyPublisher?.failures ?? 0;
      flakyPublisher = undefined;
      return { id: command.id, ok: true, published, publishFailures };
    }
    case 'close':
      closeAll();
      closeStorePublishers();
      closeBoard();
      closeFlaky();
      return { id: command.id, ok: true };
  }
}

process.on('message', (command: LoadCommand) => {
  handle(command).then(
    (reply) => process.send!(reply),
    (err: unknown) => process.send!({ id: command.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies LoadReply),
  );
});
process.on('disconnect', () => process.exit(0));
