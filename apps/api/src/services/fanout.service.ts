import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { wsFrame, type BoardPicture } from '@rt/protocol';
import type { RoomEntity } from '../domain/entities.js';
import type { DomainEvent } from '../domain/events.js';
import type { CursorSource } from '../domain/gapless-cursor.js';
import { toChangeFrame, toMessageFrame, toPresenceFrame, toTypingFrame } from '../dtos/chat.dto.js';
import { boardEntryText, boardPictureFrame, boardSseEvent, boardTopic } from '../dtos/board.dto.js';
import { sseEvent } from '../dtos/events.dto.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { WebSocketRepository, WsFrame, type SequencedFrame } from '../repositories/websocket.repository.js';
import { BoardService } from './board.service.js';
import { ChatService } from './chat.service.js';

const REPLAY_PAGE = 500;

/**
 * The one place where domain events become wire traffic: chat messages become WebSocket frames
 * for the room's readers, log entries become SSE events for their streams. Each frame is built
 * once per event, at the byte level (a whole WebSocket frame, a whole SSE event), and the same
 * bytes are written to every recipient. It also builds the replay sources, so a replayed
 * message is byte-for-byte the frame the live one was.
 */
@Injectable()
export class FanoutService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Fanout');
  private unsubscribe?: () => void;
  private stopResync?: () => void;
  /** Resume pages being gathered this turn, by room and position (see resumePage). */
  private readonly resumes = new Map<string, Promise<{ items: SequencedFrame[]; position: number }>>();

  constructor(
    private readonly bus: EventBus,
    private readonly websockets: WebSocketRepository,
    private readonly sse: SseRepository,
    private readonly chat: ChatService,
    private readonly board: BoardService,
    private readonly sessions: SessionRepository,
  ) {}

  /** A picture's frame, built once for every joiner that shares the picture's read. */
  private readonly pictureFrames = new WeakMap<BoardPicture, WsFrame>();

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe((event) => this.handle(event));
    this.stopResync = this.bus.onResync(() => {
      this.websockets.resync();
      this.sse.resync();
      void this.recheckSessions().catch((err: unknown) =>
        this.logger.error('cannot recheck the sessions of open connections after a resync', err instanceof Error ? err.stack : String(err)),
      );
    });
  }

  /**
   * The bus may have dropped `auth.session.revoked` too: every session that open connections
   * hold is looked up (in one batched query), and the connections of those that are gone close
   * exactly as on a live revocation (WebSocket 4001, stream `auth-expired`).
   */
  async recheckSessions(): Promise<number> {
    const held = new Set([...this.websockets.sessionIds(), ...this.sse.sessionIds()]);
    if (held.size === 0) return 0;
    const existing = await this.sessions.existing(held);
    let closed = 0;
    for (const id of held) {
      if (existing.has(id)) continue;
      closed += this.websockets.endSession(id) + this.sse.endSession(id);
    }
    if (closed > 0) this.logger.warn(`closed ${closed} connection(s) of sessions revoked while the bus was away`);
    return closed;
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    this.stopResync?.();
  }

  private handle(event: DomainEvent): void {
    switch (event.type) {
      case 'chat.message.created': {
        const { message } = event;
        const roomId = this.websockets.roomId(message.room);
        if (roomId === undefined) return; // no reader here: no frame to build
        this.websockets.broadcastMessage(message.room, { seq: message.seq, frame: new WsFrame(toMessageFrame(message, roomId)) });
        return;
      }
      case 'chat.message.changed': {
        const { change } = event;
        if (this.websockets.roomId(change.room) === undefined) return;
        this.websockets.broadcastChange(change.room, { seq: change.rev, frame: new WsFrame(toChangeFrame(change)) });
        return;
      }
      case 'chat.presence.changed':
        if (this.websockets.roomId(event.room) === undefined) return;
        this.websockets.broadcastVolatile(event.room, new WsFrame(toPresenceFrame(event.room, event.users)));
        return;
      case 'chat.typing':
        if (this.websockets.roomId(event.room) === undefined) return;
        this.websockets.broadcastVolatile(event.room, new WsFrame(toTypingFrame(event.room, event.user)), event.user.id);
        return;
      case 'stream.appended': {
        const { entry } = event;
        if (this.sse.reads(entry.stream)) this.sse.deliver(entry.stream, sseEvent(entry));
        return;
      }
      case 'board.appended': {
        const { entry } = event;
        const topic = boardTopic(entry[1]);
        const text = boardEntryText(entry); // serialised once for both transports
        if (this.websockets.readsLog(topic)) this.websockets.broadcastLog(topic, { seq: entry[2], frame: new WsFrame(text) });
        if (this.sse.reads(topic)) this.sse.deliver(topic, boardSseEvent(entry, text));
        return;
      }
      case 'board.cursor': {
        const topic = boardTopic(event.roomId);
        if (!this.websockets.readsLog(topic)) return;
        const frame = wsFrame('board-cursor', { room: event.room, id: event.user.id, name: event.user.username, x: event.x, y: event.y });
        this.websockets.broadcastLogVolatile(topic, new WsFrame(frame), event.user.id);
        return;
      }
      case 'auth.session.revoked':
        this.websockets.endSession(event.sessionId);
        this.sse.endSession(event.sessionId);
        return;
      default: {
        const unhandled: never = event;
        throw new Error(`unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }

  /**
   * Replay for a WebSocket `board-join`: with `after` inside what the log keeps, `board-resume`
   * and the entries after it; otherwise (no position, compacted away, or ahead of the log) the
   * picture, then whatever the log holds past it. Then the cursor goes live.
   */
  boardSource(room: RoomEntity, after: number | undefined): CursorSource<SequencedFrame> {
    const page = async (from: number, limit: number): Promise<SequencedFrame[]> =>
      (await this.board.entriesAfter(room.id, from, limit)).map((entry) => ({ seq: entry[2], frame: boardEntryText(entry) }));
    return {
      initial: async () => {
        if (after !== undefined) {
          const { last, floor } = await this.board.bounds(room.id);
          if (after >= floor && after <= last) {
            const items = await page(after, REPLAY_PAGE);
            const resume = { seq: after, frame: wsFrame('board-resume', { room: room.name, id: room.id, seq: after }) };
            return { items: [resume, ...items], position: items.at(-1)?.seq ?? after, more: items.length === REPLAY_PAGE };
          }
        }
        const picture = await this.board.picture(room.id);
        let frame = this.pictureFrames.get(picture);
        if (!frame) this.pictureFrames.set(picture, (frame = new WsFrame(boardPictureFrame(picture, room.name, room.id))));
        return { items: [{ seq: picture.seq, frame }], position: picture.seq, more: true };
      },
      after: page,
    };
  }

  /**
   * Replay for a WebSocket `join`: messages (the latest history, or everything after
   * `afterSeq`) and changes (everything after `afterRev`; without it, none: history already
   * carries each message's latest state).
   */
  roomSources(room: RoomEntity, afterSeq: number | undefined, afterRev: number | undefined) {
    return { messages: this.messageSource(room, afterSeq), changes: this.changeSource(room, afterSeq === undefined ? undefined : afterRev) };
  }

  private changeSource(room: RoomEntity, afterRev: number | undefined): CursorSource<SequencedFrame> {
    const after = async (from: number, limit: number) =>
      (await this.chat.changesAfter(room, from, limit)).map((c) => ({ seq: c.rev, frame: toChangeFrame(c) }));
    return {
      initial: async () => {
        if (afterRev === undefined) return { items: [], position: room.lastRev };
        const from = Math.min(afterRev, room.lastRev);
        const items = await after(from, REPLAY_PAGE);
        return { items, position: items.at(-1)?.seq ?? from, more: items.length === REPLAY_PAGE };
      },
      after,
    };
  }

  /**
   * A resume's first page: the messages after `from`, as frames. Resumes of one room from one
   * position that ask in the same turn of the event loop (a reconnect storm after a deploy
   * brings thousands at the same seq) share one read and one set of frames, built once. The read
   * starts on the next turn, after every sharer has asked, and so after each one's subscription
   * was registered (the registry subscribes before it replays): whatever commits after the read
   * reaches them live, as it would have with reads of their own. A later resume reads afresh.
   */
  private resumePage(room: RoomEntity, from: number): Promise<{ items: SequencedFrame[]; position: number }> {
    const key = `${room.id}:${from}`;
    let page = this.resumes.get(key);
    if (!page) {
      page = (async () => {
        await nextTurn();
        this.resumes.delete(key);
        const { items, position } = await this.chat.history(room, from, REPLAY_PAGE);
        return { items: items.map((m) => ({ seq: m.seq, frame: new WsFrame(toMessageFrame(m, room.id)) })), position };
      })();
      this.resumes.set(key, page);
    }
    return page;
  }

  private messageSource(room: RoomEntity, afterSeq: number | undefined): CursorSource<SequencedFrame> {
    return {
      initial: async () => {
        // A position beyond the end of the log (a client from another database, or lying)
        // is clamped to the end, so the reader still gets everything that comes next.
        const from = afterSeq === undefined ? undefined : Math.min(afterSeq, room.lastSeq);
        if (from !== undefined) {
          const { items, position } = await this.resumePage(room, from);
          return { items, position, more: items.length === REPLAY_PAGE };
        }
        const { items, position } = await this.chat.history(room, from, REPLAY_PAGE);
        return { items: items.map((m) => ({ seq: m.seq, frame: toMessageFrame(m, room.id) })), position, more: false };
      },
      after: async (after, limit) => {
        const items = await this.chat.messagesAfter(room, after, limit);
        return items.map((m) => ({ seq: m.seq, frame: toMessageFrame(m, room.id) }));
      },
    };
  }
}
