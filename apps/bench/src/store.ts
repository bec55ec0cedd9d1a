/**
 * The load generator's side of the `store` scenario: the app's chat publishers that count their
 * acks. Every message is stored (numbered in the room's log) before its ack comes back, so acks
 * per second is stored messages per second; each room's acked `seq`s, collected over the whole
 * run, must be exactly 1..N: every message stored once, none lost, no gap. Publisher i writes to
 * room i mod (number of rooms).
 */
import WebSocket from 'ws';
import type { StoreResult, Target } from './protocol.js';
import { summarize } from './stats.js';

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

interface AckingPublisher {
  socket: WebSocket;
  room: string;
  sentAt: Map<string, number>;
  next: number;
}

const publishers: AckingPublisher[] = [];
/** Every seq acked in this run, per room, for the gapless check. */
const seqs = new Map<string, number[]>();
let step = { acked: 0, errors: 0, samples: [] as number[], lastAck: 0 };

function open(target: Target, index: number, room: string): Promise<AckingPublisher> {
  const cookie = target.cookies![index % target.cookies!.length]!;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${target.port}/ws`, { headers: { cookie }, perMessageDeflate: false });
    const publisher: AckingPublisher = { socket, room, sentAt: new Map(), next: 0 };
    const acked = seqs.get(room) ?? [];
    seqs.set(room, acked);
    let joined = false;
    socket.on('message', (raw: Buffer) => {
      const text = raw.toString();
      if (!joined) {
        if (text.startsWith('{"event":"joined"')) {
          joined = true;
          resolve(publisher);
        }
        return;
      }
      // Only acks and errors matter here; the room's messages (each publisher is a member) are skipped unparsed.
      if (text.startsWith('{"event":"ack"')) {
        const { data } = JSON.parse(text) as { data: { clientId: string; seq: number } };
        const sent = publisher.sentAt.get(data.clientId);
        if (sent === undefined) return;
        publisher.sentAt.delete(data.clientId);
        const now = nowMicros();
        step.acked++;
        step.samples.push((now - sent) / 1000);
        step.lastAck = now;
        acked.push(data.seq);
      } else if (text.startsWith('{"event":"error"')) {
        step.errors++;
      }
    });
    socket.once('open', () => socket.send(JSON.stringify({ event: 'join', data: { room } })));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

export async function openStorePublishers(target: Target, count: number, rooms: string[]): Promise<number> {
  for (let i = 0; i < count; i++) publishers.push(await open(target, i, rooms[i % rooms.length]!));
  return publishers.length;
}

/** Sends `rate` messages a second for `durationMs`, round-robin over the publishers, and waits up to `graceMs` for their acks. */
export async function runStoreStep(rate: number, durationMs: number, payloadBytes: number, graceMs: number): Promise<StoreResult> {
  // The previous step's stragglers first, so each step counts only its own acks.
  const drainUntil = nowMicros() + 30_000_000;
  while (publishers.some((p) => p.sentAt.size > 0) && nowMicros() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  step = { acked: 0, errors: 0, samples: [], lastAck: 0 };
  const text = 'x'.repeat(payloadBytes);
  const start = nowMicros();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((nowMicros() - start) / 1e6) * rate) + 1);
      while (sent < due) {
        const publisher = publishers[sent % publishers.length]!;
        const clientId = `s${publishers.indexOf(publisher)}-${++publisher.next}`;
        publisher.sentAt.set(clientId, nowMicros());
        publisher.socket.send(`{"event":"message","data":{"room":${JSON.stringify(publisher.room)},"clientId":"${clientId}","text":"${text}"}}`);
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const deadline = nowMicros() + graceMs * 1000;
  while (step.acked + step.errors < sent && nowMicros() < deadline) await new Promise((r) => setTimeout(r, 5));
  let gapless = true;
  let totalAcked = 0;
  for (const acked of seqs.values()) {
    const sorted = Float64Array.from(acked).sort();
    for (let i = 0; i < sorted.length; i++) if (sorted[i] !== i + 1) gapless = false;
    totalAcked += sorted.length;
  }
  return { sent, acked: step.acked, errors: step.errors, latency: summarize(step.samples), elapsedMs: ((step.lastAck || nowMicros()) - start) / 1000, totalAcked, gapless };
}

export function closeStorePublishers(): void {
  for (const p of publishers) p.socket.terminate();
  publishers.length = 0;
  seqs.clear();
}
