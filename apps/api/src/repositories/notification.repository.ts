import { Injectable } from '@nestjs/common';
import type { NotificationEntity, NotificationKind, NotificationLink, StreamEntry } from '../domain/entities.js';
import { DatabaseRepository } from './database.repository.js';
import { exec, isoTime, many, one, sqlNow, type Unit } from './sql.js';
import { StreamEventRepository } from './stream-event.repository.js';

interface NotificationRow {
  userId: number;
  seq: number;
  kind: string;
  title: string;
  body: string;
  createdAt: Date;
  readAt: Date | null;
  room: string | null;
  roomSeq: number | null;
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
    link: row.room !== null && row.roomSeq !== null ? { room: row.room, seq: row.roomSeq } : null,
  };
}

export interface NewNotification {
  userId: number;
  kind: NotificationKind;
  title: string;
  body: string;
  /** What it is about, to open (a mention: its message). */
  link?: NotificationLink;
}

/** The `notifications` log of a user. */
export const userStream = (userId: number) => `user:${userId}`;

/** The payload of a `notification` event (without `topic` and `sentAt`). */
export function notificationPayload(n: NotificationEntity): Record<string, unknown> {
  return { id: n.seq, kind: n.kind, title: n.title, body: n.body, createdAt: n.createdAt, read: n.read, link: n.link };
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
  private *nextSeq(userId: number): Unit<number> {
    const row = yield* one<{ notificationSeq: number }>(`UPDATE "User" SET "notificationSeq" = "notificationSeq" + 1 WHERE "id" = $1 RETURNING "notificationSeq"`, [userId]);
    if (!row) throw new Error(`user ${userId} does not exist`);
    return row.notificationSeq;
  }

  /** Stores a notification and its `notification` event. */
  *append(notification: NewNotification): Unit<{ notification: NotificationEntity; entry: StreamEntry }> {
    const seq = yield* this.nextSeq(notification.userId);
    const createdAt = sqlNow();
    const { link, ...fields } = notification;
    yield* exec(`INSERT INTO "Notification" ("userId", "seq", "kind", "title", "body", "createdAt", "room", "roomSeq") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      fields.userId,
      seq,
      fields.kind,
      fields.title,
      fields.body,
      createdAt,
      link?.room ?? null,
      link?.seq ?? null,
    ]);
    const stored: NotificationEntity = { ...fields, seq, createdAt: isoTime(createdAt), read: false, link: link ?? null };
    const entry = yield* this.log.append(userStream(notification.userId), seq, 'notification', notificationPayload(stored));
    return { notification: stored, entry };
  }

  /**
   * Marks notifications read (one by its seq, or all) and appends one `notification-read`
   * event; null when nothing changed (no event then).
   */
  *markRead(userId: number, which: number | 'all'): Unit<StreamEntry | null> {
    const unreadSql = `SELECT "seq" FROM "Notification" WHERE "userId" = $1 AND "readAt" IS NULL`;
    const changed = which === 'all'
      ? yield* many<{ seq: number }>(`${unreadSql} ORDER BY "seq" DESC`, [userId])
      : yield* many<{ seq: number }>(`${unreadSql} AND "seq" = $2`, [userId, which]);
    if (changed.length === 0) return null;
    const now = sqlNow();
    if (which === 'all') yield* exec(`UPDATE "Notification" SET "readAt" = $2 WHERE "userId" = $1 AND "readAt" IS NULL`, [userId, now]);
    else yield* exec(`UPDATE "Notification" SET "readAt" = $3 WHERE "userId" = $1 AND "seq" = $2`, [userId, which, now]);
    const counted = yield* one<{ unread: number }>(`SELECT CAST(COUNT(*) AS INTEGER) AS "unread" FROM "Notification" WHERE "userId" = $1 AND "readAt" IS NULL`, [userId]);
    const seq = yield* this.nextSeq(userId);
    const data = which === 'all' ? { ids: [changed[0]!.seq], all: true, unread: counted?.unread ?? 0 } : { ids: [which], all: false, unread: counted?.unread ?? 0 };
    return yield* this.log.append(userStream(userId), seq, 'notification-read', data);
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
