import { Injectable } from '@nestjs/common';
import type { MessageEntity, RoomEntity } from '../domain/entities.js';
import { DatabaseRepository, type Tx } from './database.repository.js';

const messageSelect = {
  id: true,
  seq: true,
  text: true,
  clientId: true,
  createdAt: true,
  room: { select: { name: true } },
  author: { select: { id: true, username: true } },
} as const;

interface MessageRow {
  id: number;
  seq: number;
  text: string;
  clientId: string;
  createdAt: Date;
  room: { name: string };
  author: { id: number; username: string };
}

function toMessage(row: MessageRow): MessageEntity {
  return {
    id: row.id,
    room: row.room.name,
    seq: row.seq,
    author: row.author,
    text: row.text,
    clientId: row.clientId,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Rooms and their ordered message logs. */
@Injectable()
export class RoomRepository {
  constructor(private readonly db: DatabaseRepository) {}

  findByName(name: string): Promise<RoomEntity | null> {
    return this.db.client.room.findUnique({ where: { name }, select: { id: true, name: true, lastSeq: true } });
  }

  /** Creates the room if it does not exist yet (idempotent, safe to run at every start). */
  async ensure(name: string): Promise<RoomEntity> {
    return this.db.client.room.upsert({
      where: { name },
      create: { name },
      update: {},
      select: { id: true, name: true, lastSeq: true },
    });
  }

  /**
   * Appends a message to the room's log. The sequence number comes from the room row, bumped in
   * the same transaction: the bump locks the row until commit, so concurrent writers (on any
   * instance) queue up, commit in sequence order, and a rollback hands the number back.
   */
  async appendMessage(tx: Tx, roomId: number, authorId: number, text: string, clientId: string): Promise<MessageEntity> {
    const { lastSeq } = await tx.room.update({
      where: { id: roomId },
      data: { lastSeq: { increment: 1 } },
      select: { lastSeq: true },
    });
    const row = await tx.message.create({
      data: { roomId, authorId, text, clientId, seq: lastSeq },
      select: messageSelect,
    });
    return toMessage(row);
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

  /** The latest `limit` messages, oldest first. */
  async latestMessages(roomId: number, limit: number): Promise<MessageEntity[]> {
    const rows = await this.db.client.message.findMany({
      where: { roomId },
      orderBy: { seq: 'desc' },
      take: limit,
      select: messageSelect,
    });
    return rows.reverse().map(toMessage);
  }
}
