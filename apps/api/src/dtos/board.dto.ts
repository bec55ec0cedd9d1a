import {
  BOARD_HEIGHT,
  BOARD_LIMITS,
  BOARD_WIDTH,
  boardStrokeProblem,
  encodeSse,
  ROOM_NAME_PATTERN,
  wsFrame,
  type BoardClientFrames,
  type BoardEntry,
  type BoardPicture,
  type BoardPictureData,
} from '@rt/protocol';
import type { BoardWrite } from '../domain/entities.js';
import { ROOM_NAME_MESSAGE } from './chat.dto.js';
import type { SseEventText } from './events.dto.js';

const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function roomProblem(data: Record<string, unknown>): string | null {
  return typeof data.room === 'string' && ROOM_NAME_PATTERN.test(data.room) ? null : ROOM_NAME_MESSAGE;
}

/**
 * Why a board frame's `data` is not acceptable, or null. The shape only: what needs the log
 * (the stroke exists, the board has room) is decided where it is stored.
 */
export function boardFrameProblem<E extends keyof BoardClientFrames>(event: E, data: Record<string, unknown>): string | null {
  const room = roomProblem(data);
  if (room) return room;
  switch (event) {
    case 'board-join':
      return data.after === undefined || (isInt(data.after) && data.after >= 0 && data.after <= MAX_SEQ) ? null : 'after must be a non-negative integer';
    case 'board-leave':
      return null;
    case 'board-stroke':
      return boardStrokeProblem(data);
    case 'board-undo':
      return isInt(data.s) && data.s >= 1 && data.s <= BOARD_LIMITS.strokeIdMax ? null : `s must be an integer from 1 to ${BOARD_LIMITS.strokeIdMax}`;
    case 'board-clear':
      return isInt(data.id) && data.id >= 1 && data.id <= BOARD_LIMITS.strokeIdMax ? null : `id must be an integer from 1 to ${BOARD_LIMITS.strokeIdMax}`;
    case 'board-cursor': {
      const { x, y } = data;
      if (x === -1 && y === -1) return null;
      if (!isInt(x) || !isInt(y) || x < 0 || x > BOARD_WIDTH || y < 0 || y > BOARD_HEIGHT) return `x and y must be integers in [0, ${BOARD_WIDTH}] × [0, ${BOARD_HEIGHT}], or both -1`;
      return null;
    }
    default:
      return `unknown board event ${String(event)}`;
  }
}

/** A checked `board-stroke`, `board-undo` or `board-clear` as what the log stores. */
export function toBoardWrite(event: 'board-stroke' | 'board-undo' | 'board-clear', data: Record<string, unknown>, username: string): BoardWrite {
  if (event === 'board-undo') return { kind: 'u', stroke: data.s as number };
  if (event === 'board-clear') return { kind: 'c', id: data.id as number, name: username };
  const d = data as unknown as BoardClientFrames['board-stroke'];
  if (d.i === 0) return { kind: 's', stroke: d.s, colour: d.c!, width: d.w!, eraser: d.e === true ? 1 : 0, points: d.p };
  return { kind: 'p', stroke: d.s, part: d.i, points: d.p };
}

/** An entry as a WebSocket frame's text: the tuple itself (docs/protocol.md, "Board"). */
export function boardEntryText(entry: BoardEntry): string {
  return JSON.stringify(entry);
}

export function boardPictureFrame(picture: BoardPicture, room: string, roomId: number): string {
  return wsFrame('board-picture', picture.toData(room, roomId));
}

/** The topic of a board on `/api/events`: `board:<room id>`. */
export function boardTopic(roomId: number): string {
  return `board:${roomId}`;
}

/** One board event as both SSE forms (plain with its `id:` line, and the multiplexed body), built once for every stream. */
function boardSse(seq: number, event: 'board' | 'picture', data: string): SseEventText {
  const bytes = Buffer.byteLength(data);
  return { seq, plain: encodeSse({ id: seq, event, data }), plainPayloadBytes: bytes, body: encodeSse({ event, data }), bodyPayloadBytes: bytes };
}

/**
 * An entry as SSE: the `board` event, data the same tuple as over the WebSocket (its room id
 * names the topic); `text` is the entry's WebSocket text when the caller has built it already.
 */
export function boardSseEvent(entry: BoardEntry, text = boardEntryText(entry)): SseEventText {
  return boardSse(entry[2], 'board', text);
}

/** The picture as SSE: the `picture` event, at the picture's position (what a new viewer gets first). */
export function boardPictureSse(data: BoardPictureData): SseEventText {
  return boardSse(data.seq, 'picture', JSON.stringify({ topic: boardTopic(data.id), ...data }));
}
