// The measurement traffic (docs/protocol.md, "Metrics"): the head-to-head probe and the
// per-connection counters.

/** `POST /api/probe` body; bounds in PROBE_LIMITS (limits.ts). */
export interface ProbeRequest {
  sizeBytes: number;
  ratePerSecond: number;
  durationMs: number;
  /** From the WebSocket's `hello`. */
  wsConnectionId: string;
  /** From the event stream's `hello`. */
  sseConnectionId: string;
}

/** One transport's side of a probe, as the server measured it. */
export interface ProbeTransportResult {
  sent: number;
  wireBytesPerMessage: number;
  payloadBytesPerMessage: number;
  cpuMsPer1000: number;
}

/** `POST /api/probe` answer, once the timed phase and the CPU phase are over. */
export interface ProbeResult {
  run: string;
  count: number;
  ws: ProbeTransportResult;
  sse: ProbeTransportResult;
}

/** The `data` of a `probe` (or `probe-cpu`) WebSocket frame or SSE event. */
export interface ProbeMessage {
  run: string;
  n: number;
  count: number;
  /** The server's clock when it was sent, epoch ms. */
  sentAt: number;
  /** Padding, so the whole data JSON is `sizeBytes` long. */
  payload: string;
}

/** The two transports, as the metrics name them. */
export type Transport = 'ws' | 'sse';

/** `GET /api/metrics/connections/:id`: what the server has sent on one of your connections. */
export interface ConnectionMetrics {
  transport: Transport;
  messagesOut: number;
  payloadBytesOut: number;
  /** Sampled at the call; excludes the WebSocket handshake and the SSE response head. */
  wireBytesOut: number;
  /** The part of `wireBytesOut` that carried no message: heartbeats, protocol pings, `retry:`, `hello`, SSE pongs. */
  controlBytesOut: number;
}

/** `POST /api/metrics/connections/:id/ping` body: a clock probe over SSE (answered by `pong` on that stream). */
export interface ClockPing {
  id: number;
  /** The client's clock, epoch ms. */
  t: number;
}
