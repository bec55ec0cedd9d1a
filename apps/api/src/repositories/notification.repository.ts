import { Injectable } from '@nestjs/common';
import type { NotificationEntity, NotificationKind, StreamEntry } from '../domain/entities.js';
import { DatabaseRepository, type Tx } from './database.repository.js';
import { StreamEventRepository } from './stream-event.repository.js';

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

/** The `notifications` log of a user. */
export const userStream = (userId: number) => `user:${userId}`;

/** The payload of a `notification` event (without `topic` and `sentAt`). */
export function notificationPayload(n: NotificationEntity): Record<string, unknown> {
  return { id: n.seq, kind: n.kind, title: n.title, body: n.body, createdAt: n.createdAt, read: n.read };
}

/**
 * Notifications, and each user's `notifications` log (`user:<id>`), which carries both
 * `notification` and `notification-read` events.
 */
@Injectable()
export class NotificationRepository {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly log: StreamEventRepository,
  ) {}

  /**
   * The next position in the user's log. The counter lives on the user row and is bumped in the
   * caller's transaction: the bump locks the row until commit, so the log is gapless and commits
   * in order (see RoomRepository.appendMessage).
   */
  private async nextSeq(tx: Tx, userId: number): Promise<number> {
    const { notificationSeq } = await tx.user.update({ where: { id: userId }, data: { notificationSeq: { increment: 1 } }, select: { notificationSeq: true } });
    return notificationSeq;
  }

  /** Stores a notification and its `notification` event. */
  async append(tx: Tx, notification: NewNotification): Promise<{ notification: NotificationEntity; entry: StreamEntry }> {
    const seq = await this.nextSeq(tx, notification.userId);
    const stored = toNotification(await tx.notification.create({ data: { ...notification, seq } }));
    const entry = await this.log.append(tx, userStream(notification.userId), seq, 'notification', notificationPayload(stored));
    return { notification: stored, entry };
  }

  /**
   * Marks notifications read (the given ids, or all) and appends one `notification-read`
   * event; null when nothing changed (no event then).
   */
  async markRead(userId: number, ids: number[] | 'all'): Promise<StreamEntry | null> {
    return this.db.transaction(async (tx) => {
      const where = { userId, readAt: null, ...(ids === 'all' ? {} : { seq: { in: ids } }) };
      const changed = await tx.notification.findMany({ where, select: { seq: true }, orderBy: { seq: 'desc' } });
      if (changed.length === 0) return null;
      await tx.notification.updateMany({ where: { userId, seq: { in: changed.map((c) => c.seq) } }, data: { readAt: new Date() } });
      const unread = await tx.notification.count({ where: { userId, readAt: null } });
      const seq = await this.nextSeq(tx, userId);
      const data = ids === 'all' ? { ids: [changed[0]!.seq], all: true, unread } : { ids: changed.map((c) => c.seq).reverse(), all: false, unread };
      return this.log.append(tx, userStream(userId), seq, 'notification-read', data);
    });
  }

  async exists(userId: number, seq: number): Promise<boolean> {
    return (await this.db.client.notification.count({ where: { userId, seq } })) > 0;
  }

  /** The user's log position: the last sequence number handed out. */
  async lastSeq(userId: number): Promise<number> {
    const user = await this.db.client.user.findUnique({ where: { id: userId }, select: { notificationSeq: true } });
    return user?.notificationSeq ?? 0;
  }

  /** Notifications with `seq > afterSeq`, oldest first, at most `limit`. */
  async after(userId: number, afterSeq: number, limit: number): Promise<NotificationEntity[]> {
    const rows = await this.db.client.notification.findMany({ where: { userId, seq: { gt: afterSeq } }, orderBy: { seq: 'asc' }, take: limit });
    return rows.map(toNotification);
  }

  /** The latest `limit` notifications, newest first. */
  async latest(userId: number, limit: number): Promise<NotificationEntity[]> {
    const rows = await this.db.client.notification.findMany({ where: { userId }, orderBy: { seq: 'desc' }, take: limit });
    return rows.map(toNotification);
  }

  countUnread(userId: number): Promise<number> {
    return this.db.client.notification.count({ where: { userId, readAt: null } });
  }
}
