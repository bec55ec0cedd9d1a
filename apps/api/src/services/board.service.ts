import { Inject, Injectable, Logger } from '@nestjs/common';
import { BOARD_HEIGHT, BOARD_WIDTH, type BoardEntry, type BoardPicture } from '@rt/protocol';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { BoardWrite, RoomEntity, UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { BoardRepository, type BoardRefusal } from '../repositories/board.repository.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { RoomRepository } from '../repositories/room.repository.js';

const REFUSALS: Record<Exclude<BoardRefusal, 'rate_limited'>, (w: BoardWrite) => DomainError> = {
  board_full: () => new DomainError('board_full', 'The board is full: clear it to draw more'),
  stroke_not_found: (w) => new DomainError('stroke_not_found', `No stroke ${w.kind === 'c' ? w.id : w.stroke} of yours on the board to ${w.kind === 'u' ? 'undo' : 'continue'}`),
};

/**
 * A room's board: appends to its log (a stroke's segments, undos, clears) through the group
 * commit, then publishes each entry; pictures for late joiners; cursors, which are not stored.
 * Inputs arrive checked for shape (dtos/board.dto.ts); limits that need the log are decided in
 * the repository's unit.
 */
@Injectable()
export class BoardService {
  private readonly logger = new Logger('Board');
  /** Pictures being read, by room: joiners that ask meanwhile share the read (a late-join burst reads once). */
  private readonly reading = new Map<number, Promise<BoardPicture>>();

  constructor(
    private readonly db: DatabaseRepository,
    private readonly boards: BoardRepository,
    private readonly rooms: RoomRepository,
    private readonly rateLimit: RateLimitRepository,
    private readonly bus: EventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A room by id (the board topic `board:ID`), or null. */
  roomById(id: number): Promise<{ id: number; name: string } | null> {
    return this.rooms.refById(id);
  }

  async room(name: string): Promise<RoomEntity> {
    const room = await this.rooms.findByName(name);
    if (!room) throw new DomainError('room_not_found', `No room named "${name}"`);
    return room;
  }

  /**
   * Appends to the board of `roomId`, then publishes the entry. Resolves with the entry, or null
   * for a resend of one stored already (nothing new is published: the log delivers the stored
   * one). The unit takes its place in the group commit before this returns, so one connection's
   * writes are stored in the order they were called.
   */
  write(user: UserEntity, roomId: number, w: BoardWrite): Promise<BoardEntry | null> {
    let retryAfterMs = 0;
    const admit = (): boolean => {
      const decision = this.rateLimit.takeFrom('board', String(user.id));
      if (decision.allowed) return true;
      retryAfterMs = decision.retryAfterMs;
      return false;
    };
    const { boards } = this;
    const maxPoints = this.config.boardMaxPoints;
    return this.db
      .write(function* () {
        return yield* boards.append(roomId, user.id, w, maxPoints, admit);
      })
      .then(async (outcome) => {
        if (outcome.kind === 'duplicate') return null;
        if (outcome.kind === 'refused') {
          if (outcome.reason === 'rate_limited') {
            throw new DomainError('rate_limited', `Too many board strokes; try again in ${retryAfterMs} ms`, { retryAfterMs });
          }
          throw REFUSALS[outcome.reason](w);
        }
        await this.bus.publish({ type: 'board.appended', entry: outcome.entry });
        this.compactIfDue(roomId, outcome.entry[2]);
        return outcome.entry;
      });
  }

  /**
   * Every `boardLogKeep` entries, the log's older half goes into the snapshot. Decided from the
   * position alone (no state kept), so on any instance exactly one append triggers each pass;
   * a pass that fails leaves the log whole, and the next one does its work.
   */
  private compactIfDue(roomId: number, seq: number): void {
    const keep = this.config.boardLogKeep;
    if (seq % keep !== 0 || seq < 2 * keep) return;
    const { boards } = this;
    this.db
      .write(function* () {
        return yield* boards.compact(roomId, keep);
      })
      .catch((err: unknown) => this.logger.warn(`board ${roomId}: compaction failed (the log stays whole): ${err instanceof Error ? err.message : String(err)}`));
  }

  /** The board's picture now (strokes since the last clear, compacted); joiners asking together share one read. */
  picture(roomId: number): Promise<BoardPicture> {
    let read = this.reading.get(roomId);
    if (!read) {
      read = this.boards.picture(roomId).finally(() => this.reading.delete(roomId));
      this.reading.set(roomId, read);
    }
    return read;
  }

  entriesAfter(roomId: number, after: number, limit: number): Promise<BoardEntry[]> {
    return this.boards.entriesAfter(roomId, after, limit);
  }

  /** The board's last position and the oldest one its log can resume from. */
  async bounds(roomId: number): Promise<{ last: number; floor: number }> {
    return (await this.boards.bounds(roomId)) ?? { last: 0, floor: 0 };
  }

  /**
   * A member's pointer, shown to the others, not stored. Past `boardCursorsPerSecond` updates
   * are dropped without an answer (the next one shows where the pointer is); x = -1 hides it.
   */
  async cursor(user: UserEntity, room: { id: number; name: string }, x: number, y: number): Promise<void> {
    if (!this.rateLimit.takeFrom('cursor', String(user.id)).allowed) return;
    const hidden = x === -1;
    await this.bus.publish({
      type: 'board.cursor',
      roomId: room.id,
      room: room.name,
      user: { id: user.id, username: user.username },
      x: hidden ? -1 : Math.min(BOARD_WIDTH, x),
      y: hidden ? -1 : Math.min(BOARD_HEIGHT, y),
    });
  }
}
