import { Injectable } from '@nestjs/common';
import type { NotificationEntity, NotificationKind } from '../domain/entities.js';
import { DatabaseRepository, type Tx } from './database.repository.js';

interface NotificationRow {
  userId: number;
  seq: number;
  kind: string;
  title: string;
  body: string;
  createdAt: Date;
  readAt: Date | null;
}

function toNotification(row: NotificationRow): NotificationEntity {
  return {
    userId: row.userId,
    seq: row.seq,
    kind: row.kind as NotificationKind,
    title: row.title,
    body: row.body,
    createdAt: row.createdAt.toISOString(),
    read: row.readAt !== null,
  };
}

export interface NewNotification {
  userId: number;
  kind: NotificationKind;
  title: string;
  body: string;
}

/** Each user's notification log, ordered by a per-user sequence. */
@Injectable()
export class NotificationRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Appends to the user's log; the sequence comes from the user row, bumped in the same
   * transaction (see RoomRepository.appendMessage for why that makes the log gapless and ordered).
   */
  async append(tx: Tx, notification: NewNotification): Promise<NotificationEntity> {
    const { notificationSeq } = await tx.user.update({
      where: { id: notification.userId },
      data: { notificationSeq: { increment: 1 } },
      select: { notificationSeq: true },
    });
    const row = await tx.notification.create({ data: { ...notification, seq: notificationSeq } });
    return toNotification(row);
  }

  /** The user's current stream position: the last sequence number handed out. */
  async lastSeq(userId: number): Promise<number> {
    const user = await this.db.client.user.findUnique({ where: { id: userId }, select: { notificationSeq: true } });
    return user?.notificationSeq ?? 0;
  }

  /** Notifications with `seq > afterSeq`, oldest first, at most `limit`. */
  async after(userId: number, afterSeq: number, limit: number): Promise<NotificationEntity[]> {
    const rows = await this.db.client.notification.findMany({
      where: { userId, seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
    });
    return rows.map(toNotification);
  }

  /** The latest `limit` notifications, newest first. */
  async latest(userId: number, limit: number): Promise<NotificationEntity[]> {
    const rows = await this.db.client.notification.findMany({
      where: { userId },
      orderBy: { seq: 'desc' },
      take: limit,
    });
    return rows.map(toNotification);
  }

  countUnread(userId: number): Promise<number> {
    return this.db.client.notification.count({ where: { userId, readAt: null } });
  }

  async markAllRead(userId: number): Promise<number> {
    const { count } = await this.db.client.notification.updateMany({
      where: { userId, readAt: null },
      data: { readAt: new Date() },
    });
    return count;
  }
}
