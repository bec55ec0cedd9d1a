import { Injectable } from '@nestjs/common';
import { encodeSse, wsFrameJson, type ProbeRequest, type ProbeResult, type ProbeTransportResult } from '@rt/protocol';
import type WebSocket from 'ws';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { nowMs } from '../domain/clock.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { TelemetryRepository, type ConnectionStats, type Transport } from '../repositories/telemetry.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';

/** Upper bound of bytes the CPU phase sends per transport. */
const CPU_PHASE_BYTES = 8 * 1024 * 1024;

/**
 * The overlay's head-to-head probe: the same payloads at the same instants on one user's
 * WebSocket and event stream, then a short CPU phase per transport. Rate, size and duration are
 * bounded by the DTO; one probe per user at a time.
 */
@Injectable()
export class ProbeService {
  private readonly running = new Set<number>();
  private runs = 0;

  constructor(
    private readonly websockets: WebSocketRepository,
    private readonly sse: SseRepository,
    private readonly telemetry: TelemetryRepository,
  ) {}

  async run(user: UserEntity, req: ProbeRequest): Promise<ProbeResult> {
    const socket = this.websockets.socketById(req.wsConnectionId, user.id);
    if (!socket) throw new DomainError('not_found', 'No open WebSocket of yours with that id');
    if (!this.telemetry.connectionStats(req.sseConnectionId, user.id)) throw new DomainError('not_found', 'No open event stream of yours with that id');
    if (this.running.has(user.id)) throw new DomainError('conflict', 'A probe of yours is already running');
    this.running.add(user.id);
    try {
      const run = `p-${++this.runs}`;
      const count = Math.max(1, Math.round((req.ratePerSecond * req.durationMs) / 1000));
      const before = this.stats(req, user.id);
      let sentWs = 0;
      let sentSse = 0;
      const t0 = performance.now();
      for (let n = 0; n < count; n++) {
        const due = t0 + (n * 1000) / req.ratePerSecond;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const data = probeData(run, n, count, req.sizeBytes);
        if (this.sendWs(socket, data)) sentWs++;
        if (this.sendSse(req.sseConnectionId, user.id, 'probe', data)) sentSse++;
      }
      await new Promise((r) => setTimeout(r, 50)); // let the last writes reach the sockets
      const after = this.stats(req, user.id);
      const cpuMessages = Math.max(50, Math.min(1000, Math.floor(CPU_PHASE_BYTES / req.sizeBytes)));
      const cpu = {
        ws: await this.cpuPhase(cpuMessages, (n) => this.sendWs(socket, probeData(run, n, cpuMessages, req.sizeBytes), 'probe-cpu'), socket),
        sse: await this.cpuPhase(cpuMessages, (n) => this.sendSse(req.sseConnectionId, user.id, 'probe-cpu', probeData(run, n, cpuMessages, req.sizeBytes))),
      };
      const result = (t: Transport, sent: number): ProbeTransportResult => {
        const a = after[t];
        const b = before[t];
        return {
          sent,
          wireBytesPerMessage: a && b && sent ? (a.wireBytesOut - b.wireBytesOut) / sent : 0,
          payloadBytesPerMessage: a && b && sent ? (a.payloadBytesOut - b.payloadBytesOut) / sent : 0,
          cpuMsPer1000: cpu[t],
        };
      };
      return { run, count, ws: result('ws', sentWs), sse: result('sse', sentSse) };
    } finally {
      this.running.delete(user.id);
    }
  }

  private stats(req: ProbeRequest, userId: number): Record<Transport, ConnectionStats | undefined> {
    return {
      ws: this.telemetry.connectionStats(req.wsConnectionId, userId),
      sse: this.telemetry.connectionStats(req.sseConnectionId, userId),
    };
  }

  private sendWs(socket: WebSocket, data: string, event: 'probe' | 'probe-cpu' = 'probe'): boolean {
    if (socket.readyState !== 1) return false;
    this.websockets.sendDirect(socket, wsFrameJson(event, data));
    return true;
  }

  private sendSse(connectionId: string, userId: number, event: 'probe' | 'probe-cpu', data: string): boolean {
    return this.sse.writeTo(connectionId, userId, encodeSse({ event, data }), Buffer.byteLength(data));
  }

  /** Server CPU (user + system) per 1,000 messages while only one transport sends. */
  private async cpuPhase(messages: number, send: (n: number) => void, socket?: WebSocket): Promise<number> {
    await new Promise((r) => setImmediate(r));
    const start = process.cpuUsage();
    for (let n = 0; n < messages; n++) {
      send(n);
      if (socket && socket.bufferedAmount > 512 * 1024) await new Promise((r) => setTimeout(r, 5));
      else if (n % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    const used = process.cpuUsage(start);
    return ((used.user + used.system) / 1000 / messages) * 1000;
  }
}

/** A probe message's data JSON, padded so it is `size` bytes long (or as close as the fields allow). */
export function probeData(run: string, n: number, count: number, size: number): string {
  const head = `{"run":"${run}","n":${n},"count":${count},"sentAt":${nowMs().toFixed(3)},"payload":"`;
  return head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '"}';
}
