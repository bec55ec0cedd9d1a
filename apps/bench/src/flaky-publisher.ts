/**
 * The publisher of the flaky-network scenarios, in a load process of its own (so it keeps
 * publishing through a restart, whatever the receivers' process is doing). It makes message n at
 * a fixed rate, stamped with its creation time, and keeps sending until the server has taken it:
 * - app-ws: the chat socket, pipelined, acked per clientId; after a lost connection every unacked
 *   message goes again, in order, with the same clientId (the app stores a resend once);
 * - app-sse: the blog's `POST /updates`, one at a time over a keep-alive connection, retried when
 *   the connection failed (a refused or reset request stored nothing);
 * - socketio: `emit('publish', payload, ack)`, resent when the ack did not come (Socket.IO has no
 *   way to tell a resend from a new message: a duplicate here is Socket.IO's);
 * - raw-ws: `send`; taken once written to an open socket (it has no ack).
 * A message is "accepted" once taken; the receivers are judged against the accepted ones.
 */
import { Agent, request } from 'node:http';
import { clientFrame } from '@rt/protocol';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { flakyPayload, type Published } from './flaky-stats.js';
import type { FlakySystem, Target } from './protocol.js';

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);
/** The publisher's own wait between attempts while the server is away (not what is measured). */
const RETRY_MS = 100;

interface Pending {
  n: number;
  payload: string;
}

export class FlakyPublisher {
  readonly published: Published[] = [];
  /** Messages made and not yet taken, in order. */
  private queue: Pending[] = [];
  private inFlight = new Map<number, Pending>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Failed sends: refused connections, error statuses, timeouts. */
  failures = 0;
  private transport: { ready: boolean; send(p: Pending): void; close(): void } | undefined;

  constructor(
    private readonly system: FlakySystem,
    private readonly target: Target,
    private readonly payloadBytes: number,
  ) {}

  async start(rate: number): Promise<void> {
    await this.connect();
    const start = nowMicros();
    let made = 0;
    const tick = () => {
      if (this.stopped) return;
      const due = Math.floor(((nowMicros() - start) / 1e6) * rate);
      while (made < due) {
        const n = ++made;
        const createdMicros = nowMicros();
        this.published.push({ n, createdMicros, accepted: false });
        this.queue.push({ n, payload: flakyPayload(createdMicros, n, this.payloadBytes) });
      }
      this.pump();
      this.timer = setTimeout(tick, 2);
    };
    tick();
  }

  /** Stops making messages and waits up to `graceMs` for the ones made to be taken. */
  async stop(graceMs: number): Promise<Published[]> {
    clearTimeout(this.timer);
    const deadline = Date.now() + graceMs;
    while ((this.queue.length > 0 || this.inFlight.size > 0) && Date.now() < deadline) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    this.transport?.close();
    return this.published;
  }

  private accept(n: number): void {
    if (!this.inFlight.delete(n)) return;
    this.published[n - 1]!.accepted = true;
  }

  /** Everything in flight goes back to the front of the queue, in order (the connection was lost). */
  private requeue(): void {
    const back = [...this.inFlight.values()].sort((a, b) => a.n - b.n);
    this.inFlight.clear();
    this.queue = [...back, ...this.queue];
  }

  private pump(): void {
    const t = this.transport;
    if (!t?.ready) return;
    const window = this.system === 'app-sse' ? 1 : 256;
    while (this.queue.length > 0 && this.inFlight.size < window && t.ready) {
      const p = this.queue.shift()!;
      this.inFlight.set(p.n, p);
      t.send(p);
    }
  }

  private lost(): void {
    if (this.stopped) return;
    this.requeue();
    setTimeout(() => void this.connect().catch(() => this.lost()), RETRY_MS);
  }

  private async connect(): Promise<void> {
    switch (this.system) {
      case 'app-ws':
        return this.connectAppWs();
      case 'raw-ws':
        return this.connectRawWs();
      case 'app-sse':
        return this.connectHttp();
      case 'socketio':
        return this.connectSocketIo();
    }
  }

  /** A socket that closes before it was the transport failed to connect; after, the connection was lost. */
  private onClose(socket: WebSocket, t: { ready: boolean }, reject: (err: Error) => void): void {
    socket.on('error', () => {});
    socket.once('close', () => {
      t.ready = false;
      if (this.transport !== t) {
        this.failures++;
        reject(new Error('publisher could not connect'));
        return;
      }
      this.lost();
    });
  }

  private connectAppWs(): Promise<void> {
    const room = this.target.room!;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${this.target.port}/ws`, { headers: { cookie: this.target.ownerCookie! }, perMessageDeflate: false });
      let first = true;
      const t = {
        ready: false,
        send: (p: Pending) => {
          socket.send(`{"event":"message","data":{"room":${JSON.stringify(room)},"clientId":"m${p.n}","text":"${p.payload}"${first ? ',"first":true' : ''}}}`);
          first = false;
        },
        close: () => socket.terminate(),
      };
      socket.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.startsWith('{"event":"joined"')) {
          t.ready = true;
          this.transport = t;
          resolve();
          this.pump();
        } else if (text.startsWith('{"event":"ack"')) {
          this.accept(Number((JSON.parse(text) as { data: { clientId: string } }).data.clientId.slice(1)));
          this.pump();
        } else if (text.startsWith('{"event":"error"')) {
          // Refused (the server is stopping, say): start again on a new connection, from the first unacked.
          this.failures++;
          socket.terminate();
        }
      });
      socket.once('open', () => socket.send(clientFrame('join', { room })));
      this.onClose(socket, t, reject);
    });
  }

  private connectRawWs(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${this.target.port}/?role=pub`, { perMessageDeflate: false });
      const t = {
        ready: false,
        send: (p: Pending) => socket.send(p.payload, (err) => (err ? this.failures++ : this.accept(p.n))),
        close: () => socket.terminate(),
      };
      socket.once('open', () => {
        t.ready = true;
        this.transport = t;
        resolve();
        this.pump();
      });
      this.onClose(socket, t, reject);
    });
  }

  private connectHttp(): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const path = `/api/blogs/${this.target.blogId}/updates`;
    const t = {
      ready: true,
      send: (p: Pending) => {
        const body = JSON.stringify({ body: p.payload });
        const req = request(
          { host: '127.0.0.1', port: this.target.port, path, method: 'POST', agent, headers: { cookie: this.target.ownerCookie!, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            if (res.statusCode === 201) {
              this.accept(p.n);
              this.pump();
            } else retry();
          },
        );
        // Nothing was stored (refused or reset connection, an error status): again after a pause.
        const retry = () => {
          this.failures++;
          this.requeue();
          t.ready = false;
          setTimeout(() => {
            t.ready = true;
            this.pump();
          }, RETRY_MS);
        };
        req.once('error', retry);
        req.end(body);
      },
      close: () => agent.destroy(),
    };
    this.transport = t;
    return Promise.resolve();
  }

  private connectSocketIo(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket: IoSocket = io(`http://127.0.0.1:${this.target.port}`, { transports: ['websocket'], query: { role: 'pub' }, forceNew: true, reconnectionDelay: RETRY_MS, reconnectionDelayMax: RETRY_MS });
      const t = {
        ready: false,
        send: (p: Pending) =>
          socket.timeout(5000).emit('publish', p.payload, (err: Error | null) => {
            if (!err) {
              this.accept(p.n);
              this.pump();
              return;
            }
            // No ack (lost with the connection, or late): send it again, in order.
            this.failures++;
            if (this.inFlight.has(p.n)) this.requeue();
          }),
        close: () => socket.disconnect(),
      };
      socket.on('connect', () => {
        t.ready = true;
        if (!this.transport) {
          this.transport = t;
          resolve();
        }
        this.requeue();
        this.pump();
      });
      socket.on('disconnect', () => {
        t.ready = false;
      });
      socket.once('connect_error', (err) => {
        if (!this.transport) reject(err);
      });
    });
  }
}
