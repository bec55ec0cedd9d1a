import { Injectable } from '@nestjs/common';
import type { NotificationEntity } from '../domain/entities.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { NotificationRepository } from '../repositories/notification.repository.js';

export interface NotificationPage {
  items: NotificationEntity[];
  unread: number;
  lastSeq: number;
}

@Injectable()
export class NotificationService {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly notifications: NotificationRepository,
    private readonly bus: EventBus,
  ) {}

  /** The latest notifications (newest first), the unread count and the stream position. */
  async list(userId: number, limit: number): Promise<NotificationPage> {
    // Position first: anything newer than it will come over the stream.
    const lastSeq = await this.notifications.lastSeq(userId);
    const [items, unread] = await Promise.all([this.notifications.latest(userId, limit), this.notifications.countUnread(userId)]);
    return { items: items.filter((n) => n.seq <= lastSeq), unread, lastSeq };
  }

  /** A `system` notification to the user themself. */
  async sendTest(userId: number, title: string, body: string): Promise<NotificationEntity> {
    const notification = await this.db.transaction((tx) => this.notifications.append(tx, { userId, kind: 'system', title, body }));
    await this.bus.publish({ type: 'notification.created', notification });
    return notification;
  }

  markAllRead(userId: number): Promise<number> {
    return this.notifications.markAllRead(userId);
  }

  /** For stream replay: notifications after a position, oldest first. */
  after(userId: number, afterSeq: number, limit: number): Promise<NotificationEntity[]> {
    return this.notifications.after(userId, afterSeq, limit);
  }

  lastSeq(userId: number): Promise<number> {
    return this.notifications.lastSeq(userId);
  }
}
