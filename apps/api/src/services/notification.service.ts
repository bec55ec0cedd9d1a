import { Injectable } from '@nestjs/common';
import type { NotificationEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { NotificationRepository } from '../repositories/notification.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';

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
    private readonly rateLimit: RateLimitRepository,
  ) {}

  /**
   * A snapshot: the latest notifications (newest first), or those after `after` (oldest first),
   * with the unread count and the log position it is consistent with.
   */
  async list(userId: number, limit: number, after?: number): Promise<NotificationPage> {
    // Position first: anything newer than it will come over the stream.
    const lastSeq = await this.notifications.lastSeq(userId);
    const [items, unread] = await Promise.all([
      after === undefined ? this.notifications.latest(userId, limit) : this.notifications.after(userId, after, limit),
      this.notifications.countUnread(userId),
    ]);
    return { items: items.filter((n) => n.seq <= lastSeq), unread, lastSeq };
  }

  /** A `system` notification to the user themself. */
  async sendTest(userId: number, title: string, body: string): Promise<NotificationEntity> {
    await this.rateLimit.enforce('write', userId, 'test notifications');
    const { notification, entry } = await this.db.write(() => this.notifications.append({ userId, kind: 'system', title, body }));
    await this.bus.publish({ type: 'stream.appended', entry });
    return notification;
  }

  async markRead(userId: number, id: number): Promise<void> {
    if (!(await this.notifications.exists(userId, id))) throw new DomainError('not_found', `No notification ${id}`);
    const entry = await this.db.write(() => this.notifications.markRead(userId, id));
    if (entry) await this.bus.publish({ type: 'stream.appended', entry });
  }

  async markAllRead(userId: number): Promise<void> {
    const entry = await this.db.write(() => this.notifications.markRead(userId, 'all'));
    if (entry) await this.bus.publish({ type: 'stream.appended', entry });
  }
}
