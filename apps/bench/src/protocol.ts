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

/** The systems of the flaky-network scenarios: the app's two transports, Socket.IO with connection-state recovery, and raw ws (no recovery). */
export type FlakySystem = 'app-ws' | 'app-sse' | 'socketio' | 'raw-ws';
export const FLAKY_SYSTEMS: readonly FlakySystem[] = ['app-ws', 'app-sse', 'socketio', 'raw-ws'];

export interface StatsRequest {
  cmd: 'stats';
  id: number;
  gc: boolean;
  /** Start the event-loop delay figures afresh after this reply. */
  resetLoop?: boolean;
}

export interface ServerStats {
  id: number;
  /** User + system CPU of the whole process, microseconds. */
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
  /** Event-loop delay since the last reset (or the start), ms. */
  loopDelayP99Ms?: number;
  loopDelayMaxMs?: number;
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
  | { cmd: 'board-drawers'; id: number; target: Target; count: number }
  | { cmd: 'board-viewers'; id: number; target: Target; count: number; concurrency: number }
  | { cmd: 'board-step'; id: number; rate: number; durationMs: number; graceMs: number }
  | { cmd: 'close'; id: number }
  | { cmd: 'flaky-open'; id: number; system: FlakySystem; target: Target; count: number; concurrency: number }
  | { cmd: 'flaky-churn'; id: number; durationMs: number; periodMs: [number, number]; offlineMs: [number, number] }
  | { cmd: 'flaky-watch'; id: number; t0: number }
  | { cmd: 'flaky-progress'; id: number }
  | { cmd: 'flaky-settle'; id: number; published: Published[]; timeoutMs: number; t0?: number }
  | { cmd: 'pub-start'; id: number; system: FlakySystem; target: Target; rate: number; payloadBytes: number }
  | { cmd: 'pub-stop'; id: number; graceMs: number };

/** One message as the flaky scenarios' publisher saw it (see flaky-stats.ts). */
export interface Published {
  n: number;
  createdMicros: number;
  accepted: boolean;
}

/** How many clients are back (connected since the restart) and live (got a message made after that). */
export interface FlakyProgress {
  clients: number;
  online: number;
  back: number;
  live: number;
}

/** Milliseconds after the restart by which 50 %, 99 % and 100 % of the clients were there (null: never). */
export interface Fractions {
  p50: number | null;
  p99: number | null;
  p100: number | null;
}

/** Deliveries over all clients, against the messages the server accepted. */
export interface DeliveryCounts {
  clients: number;
  /** Messages the server accepted (acked, stored, or written to an open socket where it has no ack). */
  accepted: number;
  /** accepted x clients. */
  expected: number;
  /** (client, message) pairs received exactly once. */
  exactlyOnce: number;
  /** (client, message) pairs never received. */
  lost: number;
  /** Copies beyond the first. */
  duplicated: number;
  /** First copies that came after a later message. */
  outOfOrder: number;
  /** Arrivals of messages the server never accepted (or that the publisher never made). */
  unexpected: number;
  /** Clients that got every accepted message exactly once, in order. */
  clientsComplete: number;
}

/** What the receivers of a flaky scenario got, against what the server accepted. */
export interface FlakyResult extends DeliveryCounts {
  /** Deliberate drops (churn). */
  drops: number;
  reconnects: number;
  failedAttempts: number;
  refusedByStatus: number;
  recovered: number;
  resets: number;
  /** Messages that came by replay or resume: from creation, and from the moment the client's network was back. */
  replay: { fromPublish: LatencySummary; fromOnline: LatencySummary };
  /** A reconnection's last attempt, from its start to the connection being ready, ms. */
  connect: LatencySummary;
  /** The receivers' load process's event-loop delay over the run, ms: high means the figures are the load generator's. */
  loadLoopDelay: { p99: number; max: number };
  /** Storm: after the restart (SIGTERM at t0). */
  recovery?: { back: Fractions; caughtUp: Fractions; neverBack: number; neverCaughtUp: number };
}

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

/** One step of the `whiteboard` scenario: segments are the messages (sent = segments, expected = segments x viewers). */
export interface BoardStepResult extends StepResult {
  /** Points in the segments sent. */
  points: number;
  /** Summed over the segments: viewers short of one arrival each (lost), and arrivals beyond one per viewer (duplicated). */
  lost: number;
  duplicated: number;
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
  | { id: number; ok: true; opened?: number; result?: StepResult; board?: BoardStepResult; store?: StoreResult; flaky?: FlakyResult; progress?: FlakyProgress; published?: Published[]; publishFailures?: number }
  | { id: number; ok: false; error: string };
