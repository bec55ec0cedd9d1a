import { Injectable } from '@nestjs/common';
import { BoardPicture, type BoardEntry, type BoardPictureData } from '@rt/protocol';
import type { BoardWrite } from '../domain/entities.js';
import { DatabaseRepository } from './database.repository.js';
import { exec, isoTime, many, one, sqlNow, type Unit } from './sql.js';


export type BoardRefusal = 'board_full' | 'stroke_not_found' | 'rate_limited';

/**
 * What appending did: stored the entry; found it stored already (a resend: it takes no new
 * position, and was or will be delivered from the log); or refused it, storing nothing.
 */
export type BoardOutcome = { kind: 'stored'; entry: BoardEntry } | { kind: 'duplicate' } | { kind: 'refused'; reason: BoardRefusal };

/** A board's picture as stored at a compaction: the strokes and the last clear, at `seq`. */
export type BoardSnapshotData = Pick<BoardPictureData, 'seq' | 'strokes' | 'cleared'>;

interface EntryRow {
  kind: string;
  seq: number;
  authorId: number;
  stroke: number;
  part: number;
  data: string;
  createdAt: unknown;
}

/** The idempotency key's `part` of an undo and of a clear (a segment's is its number, 0 and up). */
const UNDO_PART = -2;
const CLEAR_PART = -1;

const ENTRY_SQL = `SELECT "kind", "seq", "authorId", "stroke", "part", "data", "createdAt" FROM "BoardEntry"`;

/** A stored row as the tuple clients get (docs/protocol.md, "Board"). */
function toEntry(roomId: number, row: EntryRow): BoardEntry {
  const t = Date.parse(isoTime(row.createdAt));
  const data = JSON.parse(row.data) as unknown;
  switch (row.kind) {
    case 's': {
      const [colour, width, eraser, points] = data as [string, number, 0 | 1, number[]];
      return ['s', roomId, row.seq, row.authorId, t, row.stroke, colour, width, eraser, points];
    }
    case 'p':
      return ['p', roomId, row.seq, row.authorId, t, row.stroke, row.part, data as number[]];
    case 'u':
      return ['u', roomId, row.seq, row.authorId, t, row.stroke];
    case 'c':
      return ['c', roomId, row.seq, row.authorId, t, data as string];
    default:
      throw new Error(`board ${roomId}: entry ${row.seq} has an unknown kind "${row.kind}"`);
  }
}

/** The kind's stored fields (the `data` column) and its idempotency key. */
function stored(w: BoardWrite): { stroke: number; part: number; data: string } {
  switch (w.kind) {
    case 's':
      return { stroke: w.stroke, part: 0, data: JSON.stringify([w.colour, w.width, w.eraser, w.points]) };
    case 'p':
      return { stroke: w.stroke, part: w.part, data: JSON.stringify(w.points) };
    case 'u':
      return { stroke: w.stroke, part: UNDO_PART, data: '0' };
    case 'c':
      return { stroke: w.id, part: CLEAR_PART, data: JSON.stringify(w.name) };
  }
}

/**
 * Each room's board: a gapless log (Room.boardSeq) of stroke segments, undos and clears, and the
 * snapshot older entries are compacted into. Appends are units of the group commit (prepared
 * statements; a burst of segments from every drawer shares one commit); replay and the picture
 * are prepared reads.
 */
@Injectable()
export class BoardRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Appends to the board's log, as a unit of the group commit. The room row is locked first (a
   * no-op update: PostgreSQL holds it to commit, so instances append in position order), then,
   * under it: a resend is answered `duplicate`; a later segment needs the stroke's start and its
   * previous segment, an undo the start, both after the last clear and not undone
   * (`stroke_not_found`); points past `maxPoints` since the last clear are `board_full`; `admit`
   * (the rate) is asked last, once the entry is known to be new and acceptable.
   */
  *append(roomId: number, authorId: number, w: BoardWrite, maxPoints: number, admit: () => boolean): Unit<BoardOutcome> {
    const head = yield* one<{ boardSeq: number; boardPoints: number; boardClearSeq: number }>(
      `UPDATE "Room" SET "boardSeq" = "boardSeq" WHERE "id" = $1 RETURNING "boardSeq", "boardPoints", "boardClearSeq"`,
      [roomId],
    );
    if (!head) throw new Error(`room ${roomId} does not exist`);
    const { stroke, part, data } = stored(w);
    // The entry itself (a resend), the stroke's start, its previous part and its undo, in one read.
    const rows = yield* many<{ part: number; seq: number }>(
      `SELECT "part", "seq" FROM "BoardEntry" WHERE "roomId" = $1 AND "authorId" = $2 AND "stroke" = $3 AND "part" IN ($4, 0, $5, ${UNDO_PART})`,
      [roomId, authorId, stroke, part, w.kind === 'p' ? w.part - 1 : 0],
    );
    if (rows.some((r) => r.part === part)) return { kind: 'duplicate' };
    if (w.kind === 'p' || w.kind === 'u') {
      const start = rows.find((r) => r.part === 0);
      const undone = rows.some((r) => r.part === UNDO_PART);
      const previous = w.kind === 'u' || rows.some((r) => r.part === w.part - 1);
      if (!start || start.seq <= head.boardClearSeq || undone || !previous) return { kind: 'refused', reason: 'stroke_not_found' };
    }
    const added = w.kind === 's' || w.kind === 'p' ? w.points.length / 2 : 0;
    if (added > 0 && head.boardPoints + added > maxPoints) return { kind: 'refused', reason: 'board_full' };
    if (!admit()) return { kind: 'refused', reason: 'rate_limited' };
    const seq = head.boardSeq + 1;
    const cleared = w.kind === 'c';
    yield* exec(`UPDATE "Room" SET "boardSeq" = $2, "boardPoints" = $3, "boardClearSeq" = $4 WHERE "id" = $1`, [
      roomId,
      seq,
      cleared ? 0 : head.boardPoints + added,
      cleared ? seq : head.boardClearSeq,
    ]);
    const createdAt = sqlNow();
    yield* exec(`INSERT INTO "BoardEntry" ("roomId", "seq", "kind", "authorId", "stroke", "part", "data", "createdAt") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      roomId,
      seq,
      w.kind,
      authorId,
      stroke,
      part,
      data,
      createdAt,
    ]);
    return { kind: 'stored', entry: toEntry(roomId, { kind: w.kind, seq, authorId, stroke, part, data, createdAt }) };
  }

  /** Entries with `seq > after`, oldest first, at most `limit` (replay: a prepared statement). */
  async entriesAfter(roomId: number, after: number, limit: number): Promise<BoardEntry[]> {
    const rows = await this.db.read(many<EntryRow>(`${ENTRY_SQL} WHERE "roomId" = $1 AND "seq" > $2 ORDER BY "seq" ASC LIMIT $3`, [roomId, after, limit]));
    return rows.map((row) => toEntry(roomId, row));
  }

  /** The board's last position, and the oldest position a reader may resume from (what compaction kept). */
  async bounds(roomId: number): Promise<{ last: number; floor: number } | null> {
    const row = await this.db.read(
      one<{ last: number; floor: number | null }>(
        `SELECT r."boardSeq" AS "last", s."seq" AS "floor" FROM "Room" r LEFT JOIN "BoardSnapshot" s ON s."roomId" = r."id" WHERE r."id" = $1`,
        [roomId],
      ),
    );
    return row ? { last: row.last, floor: row.floor ?? 0 } : null;
  }

  /**
   * The board's picture now: the snapshot folded with every entry after it. Read outside a
   * transaction, so a compaction between the two reads shows as a gap in the fold: then read again.
   */
  async picture(roomId: number): Promise<BoardPicture> {
    for (let attempt = 0; ; attempt++) {
      const snapshot = await this.db.read(one<{ data: string }>(`SELECT "data" FROM "BoardSnapshot" WHERE "roomId" = $1`, [roomId]));
      const picture = new BoardPicture(snapshot ? (JSON.parse(snapshot.data) as BoardSnapshotData) : undefined);
      if (await this.foldAfter(roomId, picture)) return picture;
      if (attempt >= 3) throw new Error(`board ${roomId}: the log keeps moving under the picture read`);
    }
  }

  /** Folds every entry after the picture's position into it; false on a gap (compacted meanwhile). */
  private async foldAfter(roomId: number, picture: BoardPicture): Promise<boolean> {
    const PAGE = 2000;
    for (;;) {
      const page = await this.entriesAfter(roomId, picture.seq, PAGE);
      for (const entry of page) if (picture.apply(entry) === 'gap') return false;
      if (page.length < PAGE) return true;
    }
  }

  /**
   * Compacts the board's log to its last `keep` entries: the older ones are folded into the
   * snapshot and deleted, in one unit of the group commit (so no append interleaves). Returns
   * the snapshot's position, or null when there was nothing to compact.
   */
  *compact(roomId: number, keep: number): Unit<number | null> {
    const head = yield* one<{ boardSeq: number }>(`SELECT "boardSeq" FROM "Room" WHERE "id" = $1`, [roomId]);
    const snapshot = yield* one<{ seq: number; data: string }>(`SELECT "seq", "data" FROM "BoardSnapshot" WHERE "roomId" = $1`, [roomId]);
    if (!head) return null;
    const upTo = head.boardSeq - keep;
    if (upTo <= (snapshot?.seq ?? 0)) return null;
    const picture = new BoardPicture(snapshot ? (JSON.parse(snapshot.data) as BoardSnapshotData) : undefined);
    const rows = yield* many<EntryRow>(`${ENTRY_SQL} WHERE "roomId" = $1 AND "seq" > $2 AND "seq" <= $3 ORDER BY "seq" ASC`, [roomId, picture.seq, upTo]);
    for (const row of rows) {
      if (picture.apply(toEntry(roomId, row)) === 'gap') throw new Error(`board ${roomId}: entry ${picture.seq + 1} is missing from the log`);
    }
    const { seq, strokes, cleared } = picture.toData('', roomId);
    const data = JSON.stringify({ seq, strokes, cleared } satisfies BoardSnapshotData);
    const at = sqlNow();
    if (snapshot) yield* exec(`UPDATE "BoardSnapshot" SET "seq" = $2, "data" = $3, "createdAt" = $4 WHERE "roomId" = $1`, [roomId, seq, data, at]);
    else yield* exec(`INSERT INTO "BoardSnapshot" ("roomId", "seq", "data", "createdAt") VALUES ($1, $2, $3, $4)`, [roomId, seq, data, at]);
    yield* exec(`DELETE FROM "BoardEntry" WHERE "roomId" = $1 AND "seq" <= $2`, [roomId, seq]);
    return seq;
  }
}
