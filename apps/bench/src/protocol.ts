/** Messages between the orchestrator (run.ts), the servers' agent and the load generator. */

export type SystemName = 'app-ws' | 'app-sse' | 'raw-ws' | 'raw-sse' | 'socketio' | 'floor';

export const SYSTEMS: readonly SystemName[] = ['app-ws', 'app-sse', 'raw-ws', 'raw-sse', 'socketio', 'floor'];

/** Which transport each system speaks: ratios are taken against the baseline of the same transport. */
export const TRANSPORT: Record<SystemName, 'ws' | 'sse' | 'tcp'> = {
  'app-ws': 'ws',
  'app-sse': 'sse',
  'raw-ws': 'ws',
  'raw-sse': 'sse',
  socketio: 'ws',
  floor: 'tcp',
};

export interface StatsRequest {
  cmd: 'stats';
  id: number;
  gc: boolean;
}

export interface ServerStats {
  id: number;
  /** User + system CPU of the whole process, microseconds. */
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
}

/** How the load generator reaches one system. */
export interface Target {
  system: SystemName;
  port: number;
  /** The app: a session cookie per user, the chat room, the blog and its owner's cookie. */
  cookies?: string[];
  room?: string;
  blogId?: number;
  ownerCookie?: string;
}

export type LoadCommand =
  | { cmd: 'open'; id: number; target: Target; count: number; role: 'sub' | 'both' | 'idle'; concurrency: number }
  | { cmd: 'publishers'; id: number; target: Target; count: number }
  | { cmd: 'step'; id: number; rate: number; durationMs: number; payloadBytes: number; graceMs: number; keepSamples?: boolean }
  | { cmd: 'store-publishers'; id: number; target: Target; count: number; rooms: string[] }
  | { cmd: 'store-step'; id: number; rate: number; durationMs: number; payloadBytes: number; graceMs: number }
  | { cmd: 'close'; id: number };

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface StepResult {
  /** Messages published. */
  sent: number;
  /** Deliveries expected (sent x recipients per message). */
  expected: number;
  /** Deliveries that arrived before the grace period ended. */
  delivered: number;
  /** Publishes that failed (an HTTP error, a refused frame). */
  errors: number;
  /** One-way latency, publish to delivery, milliseconds. */
  latency: LatencySummary;
  /** Bytes the subscribers' sockets read during the step (from the sockets, not estimated). */
  wireBytes: number;
  /** For framed transports, the bytes the delivered frames account for (header + text), to check the wire is exactly that. */
  frameBytes: number;
  /** Bytes of the messages' text as the client got it (WebSocket frame text, SSE event text). */
  textBytes: number;
  /** Bytes of the messages' data (the SSE `data:` value; for the others the same as textBytes). */
  dataBytes: number;
  /** From the first publish to the last delivery, milliseconds. */
  elapsedMs: number;
  /** Other messages subscribers got during the step (pings, presence): they spoil exact byte checks. */
  otherMessages: number;
}

/** One step of the `store` scenario: messages sent, acked (stored), refused, and the ack latency. */
export interface StoreResult {
  sent: number;
  acked: number;
  errors: number;
  /** Send to ack, milliseconds. */
  latency: LatencySummary;
  elapsedMs: number;
  /** Acks so far in the run, and whether their seqs are exactly 1..that. */
  totalAcked: number;
  gapless: boolean;
}

export type LoadReply =
  | { id: number; ok: true; opened?: number; result?: StepResult; store?: StoreResult }
  | { id: number; ok: false; error: string };
