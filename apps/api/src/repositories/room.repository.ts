import { Injectable } from '@nestjs/common';
import type { MessageChange, MessageEntity, RoomEntity, RoomSummary, UserEntity } from '../domain/entities.js';
import { DatabaseRepository, idempotent, isUniqueViolation, type Tx } from './database.repository.js';

const roomSelect = { id: true, name: true, lastSeq: true, lastRev: true, createdAt: true } as const;

const messageSelect = {
  id: true,
  seq: true,
  text: true,
  clientId: true,
  createdAt: true,
  editedAt: true,
  deletedAt: true,
  rev: true,
  room: { select: { name: true } },
  author: { select: { id: true, username: true } },
} as const;

interface RoomRow {
  id: number;
  name: string;
  lastSeq: number;
  lastRev: number;
  createdAt: Date;
}

interface MessageRow {
  id: number;
  seq: number;
  text: string;
  clientId: string;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  rev: number;
  room: { name: string };
  author: { id: number; username: string };
}

function toRoom(row: RoomRow): RoomEntity {
  return { ...row, createdAt: row.createdAt.toISOString() };
}

function toMessage(row: MessageRow): MessageEntity {
  return {
    id: row.id,
    room: row.room.name,
    seq: row.seq,
    author: row.author,
    text: row.deletedAt ? '' : row.text,
    clientId: row.clientId,
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deleted: row.deletedAt !== null,
    rev: row.rev,
  };
}

function toChange(row: MessageRow): MessageChange {
  const deleted = row.deletedAt !== null;
  return {
    room: row.room.name,
    rev: row.rev,
    seq: row.seq,
    kind: deleted ? 'deleted' : 'edited',
    text: deleted ? '' : row.text,
    at: (row.deletedAt ?? row.editedAt ?? row.createdAt).toISOString(),
  };
}

export type ChangeOutcome = { ok: true; change: MessageChange } | { ok: false; reason: 'not_found' | 'forbidden' };

/** Rooms, their members' read positions, and their two ordered logs: messages (seq) and changes (rev). */
@Injectable()
export class RoomRepository {
  private readonly ids = new Map<string, number>();

  constructor(private readonly db: DatabaseRepository) {}

  /**
   * A room's id by name, for the message path. Rooms are never renamed or deleted, so the
   * mapping is immutable and safe to keep in memory on every instance.
   */
  async refByName(name: string): Promise<{ id: number; name: string } | null> {
    const known = this.ids.get(name);
    if (known !== undefined) return { id: known, name };
    const row = await this.db.client.room.findUnique({ where: { name }, select: { id: true } });
    if (!row) return null;
    if (this.ids.size >= 10_000) this.ids.clear();
    this.ids.set(name, row.id);
    return { id: row.id, name };
  }

  async findByName(name: string): Promise<RoomEntity | null> {
    const row = await this.db.client.room.findUnique({ where: { name }, select: roomSelect });
    return row ? toRoom(row) : null;
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
   * Appends a message to the room's log. The sequence number comes from the room row, bumped in
   * the same transaction: the bump locks the row until commit, so concurrent writers (on any
   * instance) queue up, commit in sequence order, and a rollback hands the number back.
   */
  async appendMessage(tx: Tx, room: { id: number; name: string }, author: UserEntity, text: string, clientId: string): Promise<MessageEntity> {
    const { lastSeq } = await tx.room.update({
      where: { id: room.id },
      data: { lastSeq: { increment: 1 } },
      select: { lastSeq: true },
    });
    // Only this row's own columns: the room and the author are known, and selecting them as
    // relations would cost three more queries per message on the hottest path.
    const row = await tx.message.create({
      data: { roomId: room.id, authorId: author.id, text, clientId, seq: lastSeq },
      select: { id: true, createdAt: true },
    });
    return toMessage({ ...row, seq: lastSeq, text, clientId, editedAt: null, deletedAt: null, rev: 0, room, author: { id: author.id, username: author.username } });
  }

  /**
   * Edits or deletes the author's message, taking the room's next revision number in the same
   * transaction (the same locking argument as appendMessage). A deleted message keeps its row
   * and seq, with its text erased.
   */
  async changeMessage(roomId: number, seq: number, authorId: number, change: { kind: 'edited'; text: string } | { kind: 'deleted' }): Promise<ChangeOutcome> {
    return this.db.transaction(async (tx) => {
      const current = await tx.message.findUnique({ where: { roomId_seq: { roomId, seq } }, select: { id: true, authorId: true, deletedAt: true } });
      if (!current || current.deletedAt) return { ok: false, reason: 'not_found' } as const;
      if (current.authorId !== authorId) return { ok: false, reason: 'forbidden' } as const;
      const { lastRev } = await tx.room.update({ where: { id: roomId }, data: { lastRev: { increment: 1 } }, select: { lastRev: true } });
      const now = new Date();
      const row = await tx.message.update({
        where: { id: current.id },
        data: change.kind === 'edited' ? { text: change.text, editedAt: now, rev: lastRev } : { text: '', deletedAt: now, rev: lastRev },
        select: messageSelect,
      });
      return { ok: true, change: toChange(row) } as const;
    });
  }

  async findByClientId(authorId: number, clientId: string): Promise<MessageEntity | null> {
    const row = await this.db.client.message.findUnique({
      where: { authorId_clientId: { authorId, clientId } },
      select: messageSelect,
    });
    return row ? toMessage(row) : null;
  }

  /** Messages with `seq > afterSeq`, oldest first, at most `limit`. */
  async messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    const rows = await this.db.client.message.findMany({
      where: { roomId, seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
      select: messageSelect,
    });
    return rows.map(toMessage);
  }

  /** Up to `limit` messages with `seq < beforeSeq` (or the latest), oldest first. */
  async messagesBefore(roomId: number, beforeSeq: number | undefined, limit: number): Promise<MessageEntity[]> {
    const rows = await this.db.client.message.findMany({
      where: { roomId, ...(beforeSeq === undefined ? {} : { seq: { lt: beforeSeq } }) },
      orderBy: { seq: 'desc' },
      take: limit,
      select: messageSelect,
    });
    return rows.reverse().map(toMessage);
  }

  /**
   * The room's changes with `rev > afterRev`, oldest first. Each message holds only its latest
   * revision, so a message changed twice appears once, at its latest rev: the revision log is
   * sparse, and what it returns is the current state of everything changed since `afterRev`.
   */
  async changesAfter(roomId: number, afterRev: number, limit: number): Promise<MessageChange[]> {
    const rows = await this.db.client.message.findMany({
      where: { roomId, rev: { gt: afterRev } },
      orderBy: { rev: 'asc' },
      take: limit,
      select: messageSelect,
    });
    return rows.map(toChange);
  }
}
