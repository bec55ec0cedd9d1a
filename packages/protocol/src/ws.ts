// The WebSocket at `/ws` (docs/protocol.md, "WebSocket"): `{"event", "data"}` JSON text frames
// (optionally with a top-level `ref` from the client), except the server's `message`, a JSON
// array.

import type { BoardClientFrames, BoardServerFrames } from './board.js';
import type { HelloData, PongData } from './sse.js';
import type { ProbeMessage } from './probe.js';

/** A user as frames show them. */
export interface PublicUser {
  id: number;
  username: string;
}

/** `leave`, `typing`: frames that name a room. */
export interface RoomData {
  room: string;
}
/** `join`: the room's history after `afterSeq` (else the latest 50), and its changes after `afterRev`. */
export interface JoinData extends RoomData {
  afterSeq?: number;
  afterRev?: number;
}
/** `delete`, `read`: frames that name one message. */
export interface MessageRefData extends RoomData {
  seq: number;
}
export interface EditData extends MessageRefData {
  text: string;
}
/** `message`. `clientId`: 1 to CLIENT_ID_MAX_CHARS, unique per message; `first`: the head of the sender's outbox. */
export interface PostMessageData extends RoomData {
  text: string;
  clientId: string;
  first?: boolean;
}
/** `ping`: the client's clock probe, answered by `pong`. */
export interface PingData {
  id: number;
  t: number;
}

/** Each client → server frame's `data`, by event (the board's: board.ts). */
export interface ClientFrames extends BoardClientFrames {
  join: JoinData;
  leave: RoomData;
  message: PostMessageData;
  edit: EditData;
  delete: MessageRefData;
  typing: RoomData;
  read: MessageRefData;
  ping: PingData;
}
export type ClientEvent = keyof ClientFrames;
export type ClientFrame = { [E in ClientEvent]: { event: E; data: ClientFrames[E]; ref?: string } }[ClientEvent];

/** The error codes of the `error` frame. */
export const WS_ERROR_CODES = [
  'bad_json',
  'bad_frame',
  'unknown_event',
  'invalid',
  'room_not_found',
  'not_joined',
  'forbidden',
  'message_not_found',
  'rate_limited',
  'out_of_order',
  'board_full',
  'stroke_not_found',
  'internal',
  'unavailable',
] as const;
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/**
 * The `error` frame's data. `ref`: the frame's `ref`, else its `data.clientId`, else null.
 * `rate_limited` carries `retryAfterMs`, `out_of_order` carries `expected`.
 */
export interface WsErrorData {
  code: WsErrorCode | (string & {});
  message: string;
  ref: string | null;
  retryAfterMs?: number;
  expected?: string;
  [detail: string]: unknown;
}

/**
 * Each server → client object frame's `data`, by event (`message` is the array
 * {@link MessageTuple}; board entries are the arrays `BoardEntry`, kind letter first).
 */
export interface ServerFrames extends BoardServerFrames {
  hello: HelloData;
  joining: { room: string; id: number };
  joined: { room: string; lastSeq: number; lastRev: number };
  left: { room: string };
  ack: { clientId: string; seq: number; room: string };
  'message-edited': { room: string; seq: number; rev: number; text: string; editedAt: string };
  'message-deleted': { room: string; seq: number; rev: number };
  presence: { room: string; users: PublicUser[] };
  typing: { room: string; user: PublicUser };
  pong: PongData;
  error: WsErrorData;
  probe: ProbeMessage;
  'probe-cpu': ProbeMessage;
}
export type ServerEvent = keyof ServerFrames;
export type ServerFrame = { [E in ServerEvent]: { event: E; data: ServerFrames[E] } }[ServerEvent];

/**
 * The `message` frame: `[roomId, seq, authorId, author, t, text]`, with `editedAt` (epoch ms)
 * appended for an edited message in history; a deleted one has the text "". `t`: when it was
 * stored, epoch ms. The room is its id, from `joining`.
 */
export type MessageTuple =
  | [roomId: number, seq: number, authorId: number, author: string, t: number, text: string]
  | [roomId: number, seq: number, authorId: number, author: string, t: number, text: string, editedAt: number];

/** One server frame's text, in Nest's ws convention: `{"event":...,"data":...}`. */
export function wsFrame<E extends ServerEvent>(event: E, data: ServerFrames[E]): string {
  return JSON.stringify({ event, data });
}

/** The same, around data that is JSON already (the probe's, built once and padded to size). */
export function wsFrameJson(event: ServerEvent, dataJson: string): string {
  return `{"event":${JSON.stringify(event)},"data":${dataJson}}`;
}

/** One client frame's text, with the `ref` the server echoes in an `error` about it. */
export function clientFrame<E extends ClientEvent>(event: E, data: ClientFrames[E], ref?: string): string {
  return JSON.stringify(ref === undefined ? { event, data } : { event, data, ref });
}

/** Close codes (docs/protocol.md, "Close codes"). */
export const WsCloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** Frame larger than WS_MAX_FRAME_BYTES. */
  tooBig: 1009,
  /** The server could not keep this socket's rooms in order: reconnect and resume. */
  internalError: 1011,
  /** This instance is stopping (a deploy): reconnect (to another one) and resume. */
  serviceRestart: 1012,
  /** The session token expired or was revoked: renew it, reconnect and resume. */
  sessionExpired: 4001,
  /** The client fell behind (more than WS_MAX_BUFFERED_BYTES waiting): reconnect and resume. */
  slowConsumer: 4008,
} as const;
export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];
