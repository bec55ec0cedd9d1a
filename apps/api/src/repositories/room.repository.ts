import { Injectable } from '@nestjs/common';
import type { MessageChange, MessageEntity, RoomEntity, RoomSummary, UserEntity } from '../domain/entities.js';
import { DatabaseRepository, idempotent, isUniqueViolation } from './database.repository.js';
import { bulk, exec, isoTime, isoTimeOrNull, many, one, sqlNow, type BulkOp, type Unit } from './sql.js';

const roomSelect = { id: true, name: true, lastSeq: true, lastRev: true, createdAt: true } as const;

/** A room's id and name: what the hot path needs. */
export interface RoomRef {
  id: number;
  name: string;
}

interface RoomRow {
  id: number;
  name: string;
  lastSeq: number;
  lastRev: number;
  createdAt: Date;
}

/** A message as the prepared statements read it (one join for the room's name, one for the author's). */
interface MessageSqlRow {
  id: number;
  seq: number;
  text: string;
  clientId: string;
  createdAt: unknown;
  editedAt: unknown;
  deletedAt: unknown;
  rev: number;
  room: string;
  authorId: number;
  username: string;
}

const MESSAGE_SQL = `SELECT m."id", m."seq", m."text", m."clientId", m."createdAt", m."editedAt", m."deletedAt", m."rev", r."name" AS "room", u."id" AS "authorId", u."username" FROM "Message" m JOIN "Room" r ON r."id" = m."roomId" JOIN "User" u ON u."id" = m."authorId"`;

function toRoom(row: RoomRow): RoomEntity {
  return { ...row, createdAt: row.createdAt.toISOString() };
}

function fromSql(row: MessageSqlRow): MessageEntity {
  const deleted = row.deletedAt !== null && row.deletedAt !== undefined;
  return {
    id: row.id,
    room: row.room,
    seq: row.seq,
    author: { id: row.authorId, username: row.username },
    text: deleted ? '' : row.text,
    clientId: row.clientId,
    createdAt: isoTime(row.createdAt),
    editedAt: isoTimeOrNull(row.editedAt),
    deleted,
    rev: row.rev,
  };
}

function changeFromSql(row: MessageSqlRow): MessageChange {
  const message = fromSql(row);
  return {
    room: message.room,
    rev: message.rev,
    seq: message.seq,
    kind: message.deleted ? 'deleted' : 'edited',
    text: message.text,
    at: isoTime(row.deletedAt ?? row.editedAt ?? row.createdAt),
  };
}

/** What appending a message did: stored it, found it stored already (a resend), or was refused by `admit`. */
export type AppendOutcome = { kind: 'stored'; message: MessageEntity } | { kind: 'duplicate'; message: MessageEntity } | { kind: 'refused' };

interface AppendArgs {
  room: RoomRef;
  author: UserEntity;
  text: string;
  clientId: string;
  admit: () => boolean;
}

/** A message just stored; `createdAt` is the {@link sqlNow} text it was stored with (already ISO-8601 UTC). */
function storedMessage(a: AppendArgs, id: number, seq: number, createdAt: string): MessageEntity {
  return { id, room: a.room.name, seq, author: { id: a.author.id, username: a.author.username }, text: a.text, clientId: a.clientId, createdAt, editedAt: null, deleted: false, rev: 0 };
}

/**
 * Appending a message. The sequence number comes from the room row's counter. On PostgreSQL the
 * room rows are locked first (in id order, so concurrent instances queue instead of deadlocking)
 * and held until commit, so writers on every instance commit in sequence order; SQLite has one
 * writer. A resend (the author's `clientId` is stored already) takes no number and returns the
 * stored message.
 *
 * Per unit (SQLite): bump, insert (`ON CONFLICT DO NOTHING`), and on a conflict or a refusal give
 * the number back. For a whole batch (PostgreSQL): lock the rooms, look up every clientId, number
 * the new messages in batch order, insert them all, and bump each room's counter once: five
 * statements for any batch size instead of two round trips per message.
 */
const APPEND_MESSAGE: BulkOp<AppendArgs, AppendOutcome> = {
  name: 'append-message',
  *one(a) {
    const bumped = yield* one<{ lastSeq: number }>(`UPDATE "Room" SET "lastSeq" = "lastSeq" + 1 WHERE "id" = $1 RETURNING "lastSeq"`, [a.room.id]);
    if (!bumped) throw new Error(`room ${a.room.id} does not exist`);
    const createdAt = sqlNow();
    const row = yield* one<{ id: number }>(
      `INSERT INTO "Message" ("roomId", "seq", "authorId", "text", "clientId", "createdAt") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("authorId", "clientId") DO NOTHING RETURNING "id"`,
      [a.room.id, bumped.lastSeq, a.author.id, a.text, a.clientId, createdAt],
    );
    if (row && a.admit()) return { kind: 'stored', message: storedMessage(a, row.id, bumped.lastSeq, createdAt) };
    if (row) yield* exec(`DELETE FROM "Message" WHERE "id" = $1`, [row.id]);
    yield* exec(`UPDATE "Room" SET "lastSeq" = "lastSeq" - 1 WHERE "id" = $1`, [a.room.id]);
    if (row) return { kind: 'refused' };
    const stored = yield* messageByClientId(a.author.id, a.clientId);
    if (!stored) throw new Error(`message ${a.clientId} of user ${a.author.id} conflicted but cannot be read`);
    return { kind: 'duplicate', message: stored };
  },
  async many(run, batch) {
    const roomIds = [...new Set(batch.map((a) => a.room.id))].sort((x, y) => x - y);
    const locked = (await run({ mode: 'all', sql: `SELECT "id", "lastSeq" FROM "Room" WHERE "id" = ANY($1::int[]) ORDER BY "id" FOR UPDATE`, params: [roomIds] })) as { id: number; lastSeq: number }[];
    const last = new Map(locked.map((r) => [r.id, r.lastSeq]));
    const found = (await run({
      mode: 'all',
      sql: `${MESSAGE_SQL} WHERE (m."authorId", m."clientId") IN (SELECT * FROM unnest($1::int[], $2::text[]))`,
      params: [batch.map((a) => a.author.id), batch.map((a) => a.clientId)],
    })) as MessageSqlRow[];
    const existing = new Map(found.map((row) => [`${row.authorId}:${row.clientId}`, fromSql(row)]));
    const createdAt = sqlNow();
    const outcomes: (AppendOutcome | { kind: 'pending'; key: string; seq: number })[] = [];
    const fresh = new Map<string, { args: AppendArgs; seq: number }>();
    for (const a of batch) {
      const key = `${a.author.id}:${a.clientId}`;
      const stored = existing.get(key);
      if (stored) outcomes.push({ kind: 'duplicate', message: stored });
      else if (fresh.has(key)) outcomes.push({ kind: 'pending', key, seq: -1 }); // a resend within the batch
      else if (!last.has(a.room.id)) throw new Error(`room ${a.room.id} does not exist`);
      else if (!a.admit()) outcomes.push({ kind: 'refused' });
      else {
        const seq = last.get(a.room.id)! + 1;
        last.set(a.room.id, seq);
        fresh.set(key, { args: a, seq });
        outcomes.push({ kind: 'pending', key, seq });
      }
    }
    const rows = [...fresh.values()];
    const ids = new Map<string, number>();
    if (rows.length > 0) {
      const inserted = (await run({
        mode: 'all',
        sql: `INSERT INTO "Message" ("roomId", "seq", "authorId", "text", "clientId", "createdAt") SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::timestamp(3)[]) RETURNING "id", "authorId", "clientId"`,
        params: [rows.map((r) => r.args.room.id), rows.map((r) => r.seq), rows.map((r) => r.args.author.id), rows.map((r) => r.args.text), rows.map((r) => r.args.clientId), rows.map(() => createdAt)],
      })) as { id: number; authorId: number; clientId: string }[];
      for (const row of inserted) ids.set(`${row.authorId}:${row.clientId}`, row.id);
      const bumped = [...new Set(rows.map((r) => r.args.room.id))];
      await run({
        mode: 'run',
        sql: `UPDATE "Room" SET "lastSeq" = v."seq" FROM unnest($1::int[], $2::int[]) AS v("id", "seq") WHERE "Room"."id" = v."id"`,
        params: [bumped, bumped.map((id) => last.get(id)!)],
      });
    }
    return outcomes.map((o) => {
      if (o.kind !== 'pending') return o;
      const row = fresh.get(o.key)!;
      const message = storedMessage(row.args, ids.get(o.key)!, row.seq, createdAt);
      return o.seq === -1 ? { kind: 'duplicate', message } : { kind: 'stored', message };
    });
  },
};

function* messageByClientId(authorId: number, clientId: string): Unit<MessageEntity | undefined> {
  const row = yield* one<MessageSqlRow>(`${MESSAGE_SQL} WHERE m."authorId" = $1 AND m."clientId" = $2`, [authorId, clientId]);
  return row && fromSql(row);
}

export type ChangeOutcome = { ok: true; change: MessageChange } | { ok: false; reason: 'not_found' | 'forbidden' };

/** Rooms, their members' read positions, and their two ordered logs: messages (seq) and changes (rev). */
@Injectable()
export class RoomRepository {
  private readonly ids = new Map<string, number>();

  constructor(private readonly db: DatabaseRepository) {}

  /** A room's id by name, outside a transaction (edits, deletes): {@link ref} run on its own. */
  async refByName(name: string): Promise<RoomRef | null> {
    return (await this.db.read(this.ref(name))) ?? null;
  }

  /**
   * A room's id by name, as a unit of a transaction (a prepared statement on a cache miss), so a
   * write that needs it does not wait for a lookup before taking its place in the group commit.
   * Rooms are never renamed or deleted, so the mapping is immutable, safe to keep in memory on
   * every instance, and an id read inside a transaction stays true after it.
   */
  *ref(name: string): Unit<RoomRef | undefined> {
    const known = this.ids.get(name);
    if (known !== undefined) return { id: known, name };
    const row = yield* one<{ id: number }>(`SELECT "id" FROM "Room" WHERE "name" = $1`, [name]);
    if (!row) return undefined;
    if (this.ids.size >= 10_000) this.ids.clear();
    this.ids.set(name, row.id);
    return { id: row.id, name };
  }

  /**
   * Every `join` asks this (a reconnect storm asks it once per socket), so it is a prepared
   * statement, not an ORM query.
   */
  async findByName(name: string): Promise<RoomEntity | null> {
    const row = await this.db.read(one<Omit<RoomRow, 'createdAt'> & { createdAt: unknown }>(`SELECT "id", "name", "lastSeq", "lastRev", "createdAt" FROM "Room" WHERE "name" = $1`, [name]));
    return row ? { id: row.id, name: row.name, lastSeq: row.lastSeq, lastRev: row.lastRev, createdAt: isoTime(row.createdAt) } : null;
  }

  /** A room's id and name by id (a board topic names its room by id). */
  async refById(id: number): Promise<RoomRef | null> {
    return (await this.db.read(one<RoomRef>(`SELECT "id", "name" FROM "Room" WHERE "id" = $1`, [id]))) ?? null;
  }

  /** Creates the room if it does not exist yet (idempotent, safe to run at every start). */
  async ensure(name: string): Promise<RoomEntity> {
    return toRoom(await idempotent(() => this.db.client.room.upsert({ where: { name }, create: { name }, update: {}, select: roomSelect })));
  }

  /** Creates a room; null when the name is taken. */
  async create(name: string): Promise<RoomEntity | null> {
    try {
      return toRoom(await this.db.client.room.create({ data: { name }, select: roomSelect }));
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  /** Every room with member counts and this user's read position and unread count. */
  async listFor(userId: number): Promise<RoomSummary[]> {
    const rooms = await this.db.client.room.findMany({
      orderBy: { name: 'asc' },
      select: { ...roomSelect, _count: { select: { members: true } }, members: { where: { userId }, select: { lastReadSeq: true } } },
    });
    return Promise.all(
      rooms.map(async ({ _count, members, ...row }) => {
        const membership = members[0];
        const unread = membership
          ? await this.db.client.message.count({
              where: { roomId: row.id, seq: { gt: membership.lastReadSeq }, deletedAt: null, authorId: { not: userId } },
            })
          : 0;
        return { ...toRoom(row), members: _count.members, member: membership !== undefined, lastReadSeq: membership?.lastReadSeq ?? 0, unread };
      }),
    );
  }

  /** Makes the user a member (idempotent). */
  async addMember(roomId: number, userId: number): Promise<void> {
    // Every join of every socket comes here, and nearly always the user is a member already: a
    // prepared read answers that, the ORM's upsert (a write) only runs for a new member.
    const known = await this.db.read(one<{ roomId: number }>(`SELECT "roomId" FROM "RoomMember" WHERE "roomId" = $1 AND "userId" = $2`, [roomId, userId]));
    if (known) return;
    await idempotent(() => this.db.client.roomMember.upsert({
      where: { roomId_userId: { roomId, userId } },
      create: { roomId, userId },
      update: {},
    }));
  }

  /** Moves the member's read position forward to `seq` (never back, never past the end). */
  async markRead(roomId: number, userId: number, seq: number): Promise<void> {
    const room = await this.db.client.room.findUnique({ where: { id: roomId }, select: { lastSeq: true } });
    if (!room) return;
    await this.db.client.roomMember.updateMany({
      where: { roomId, userId, lastReadSeq: { lt: Math.min(seq, room.lastSeq) } },
      data: { lastReadSeq: Math.min(seq, room.lastSeq) },
    });
  }

  /**
   * Appends a message to the room's log, as a unit of the group commit (see {@link APPEND_MESSAGE}).
   * `admit` runs once the message is known to be new (the rate limit); when it refuses, nothing of
   * the unit remains.
   */
  appendMessage(room: RoomRef, author: UserEntity, text: string, clientId: string, admit: () => boolean): Unit<AppendOutcome> {
    return bulk(APPEND_MESSAGE, { room, author, text, clientId, admit });
  }

  /**
   * Edits or deletes the author's message, taking the room's next revision number (the same
   * locking argument as appendMessage; taken first, so the message is read under the lock, and
   * given back if the change is refused). A deleted message keeps its row and seq, text erased.
   */
  *changeMessage(room: RoomRef, seq: number, authorId: number, change: { kind: 'edited'; text: string } | { kind: 'deleted' }): Unit<ChangeOutcome> {
    const bumped = yield* one<{ lastRev: number }>(`UPDATE "Room" SET "lastRev" = "lastRev" + 1 WHERE "id" = $1 RETURNING "lastRev"`, [room.id]);
    if (!bumped) return { ok: false, reason: 'not_found' };
    const current = yield* one<{ id: number; authorId: number; deletedAt: unknown }>(`SELECT "id", "authorId", "deletedAt" FROM "Message" WHERE "roomId" = $1 AND "seq" = $2`, [room.id, seq]);
    const refusal = !current || current.deletedAt !== null ? 'not_found' : current.authorId !== authorId ? 'forbidden' : null;
    if (refusal || !current) {
      yield* exec(`UPDATE "Room" SET "lastRev" = "lastRev" - 1 WHERE "id" = $1`, [room.id]);
      return { ok: false, reason: refusal ?? 'not_found' };
    }
    const at = sqlNow();
    const rev = bumped.lastRev;
    if (change.kind === 'edited') {
      yield* exec(`UPDATE "Message" SET "text" = $2, "editedAt" = $3, "rev" = $4 WHERE "id" = $1`, [current.id, change.text, at, rev]);
    } else {
      yield* exec(`UPDATE "Message" SET "text" = '', "deletedAt" = $2, "rev" = $3 WHERE "id" = $1`, [current.id, at, rev]);
    }
    return { ok: true, change: { room: room.name, rev, seq, kind: change.kind, text: change.kind === 'edited' ? change.text : '', at: isoTime(at) } };
  }

  /** Messages with `seq > afterSeq`, oldest first, at most `limit` (replay: prepared statement). */
  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return this.db.read(many<MessageSqlRow>(`${MESSAGE_SQL} WHERE m."roomId" = $1 AND m."seq" > $2 ORDER BY m."seq" ASC LIMIT $3`, [roomId, afterSeq, limit])).then((rows) => rows.map(fromSql));
  }

  /** Up to `limit` messages with `seq < beforeSeq` (or the latest), oldest first. */
  async messagesBefore(roomId: number, beforeSeq: number | undefined, limit: number): Promise<MessageEntity[]> {
    const rows = await this.db.read(
      beforeSeq === undefined
        ? many<MessageSqlRow>(`${MESSAGE_SQL} WHERE m."roomId" = $1 ORDER BY m."seq" DESC LIMIT $2`, [roomId, limit])
        : many<MessageSqlRow>(`${MESSAGE_SQL} WHERE m."roomId" = $1 AND m."seq" < $2 ORDER BY m."seq" DESC LIMIT $3`, [roomId, beforeSeq, limit]),
    );
    return rows.reverse().map(fromSql);
  }

  /**
   * The room's changes with `rev > afterRev`, oldest first. Each message holds only its latest
   * revision, so a message changed twice appears once, at its latest rev: the revision log is
   * sparse, and what it returns is the current state of everything changed since `afterRev`.
   */
  changesAfter(roomId: number, afterRev: number, limit: number): Promise<MessageChange[]> {
    return this.db
      .read(many<MessageSqlRow>(`${MESSAGE_SQL} WHERE m."roomId" = $1 AND m."rev" > $2 ORDER BY m."rev" ASC LIMIT $3`, [roomId, afterRev, limit]))
      .then((rows) => rows.map(changeFromSql));
  }
}
