import { Injectable } from '@nestjs/common';
import type { MessageEntity, NotificationEntity, RoomEntity, UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { DatabaseRepository, isUniqueViolation } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { NotificationRepository } from '../repositories/notification.repository.js';
import { RoomRepository } from '../repositories/room.repository.js';
import { UserRepository } from '../repositories/user.repository.js';

export const HISTORY_ON_JOIN = 50;
const MENTION = /(?:^|[^a-z0-9_-])@([a-z0-9_-]{3,32})(?![a-z0-9_-])/g;
const MAX_MENTIONS = 20;

export interface PostResult {
  message: MessageEntity;
  /** True when this clientId was already stored: nothing new was written or published. */
  duplicate: boolean;
}

/** The distinct usernames `@mentioned` in a text, in order of appearance. */
export function mentionedUsernames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.toLowerCase().matchAll(MENTION)) {
    names.add(match[1]!);
    if (names.size >= MAX_MENTIONS) break;
  }
  return [...names];
}

@Injectable()
export class ChatService {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly rooms: RoomRepository,
    private readonly users: UserRepository,
    private readonly notifications: NotificationRepository,
    private readonly bus: EventBus,
  ) {}

  async getRoom(name: string): Promise<RoomEntity> {
    const room = await this.rooms.findByName(name);
    if (!room) throw new DomainError('room_not_found', `No room named "${name}"`);
    return room;
  }

  ensureRoom(name: string): Promise<RoomEntity> {
    return this.rooms.ensure(name);
  }

  /**
   * Stores a message and the mention notifications it causes in one transaction, then publishes
   * them. Idempotent per (author, clientId): a resend returns the stored message and publishes
   * nothing new.
   */
  async post(author: UserEntity, roomName: string, rawText: string, clientId: string): Promise<PostResult> {
    const text = rawText.trim();
    if (text.length === 0 || text.length > 4000) throw new DomainError('invalid', 'text must be 1 to 4000 characters');
    const room = await this.getRoom(roomName);
    const existing = await this.rooms.findByClientId(author.id, clientId);
    if (existing) return { message: existing, duplicate: true };

    const mentioned = (await this.users.findByUsernames(mentionedUsernames(text))).filter((u) => u.id !== author.id);
    let stored: { message: MessageEntity; notifications: NotificationEntity[] };
    try {
      stored = await this.db.transaction(async (tx) => {
        const message = await this.rooms.appendMessage(tx, room.id, author.id, text, clientId);
        const notifications: NotificationEntity[] = [];
        for (const user of mentioned) {
          notifications.push(
            await this.notifications.append(tx, {
              userId: user.id,
              kind: 'mention',
              title: `${author.username} mentioned you in #${room.name}`,
              body: text.length > 280 ? `${text.slice(0, 279)}…` : text,
            }),
          );
        }
        return { message, notifications };
      });
    } catch (err) {
      // Two sends of the same clientId raced; the other one won.
      if (isUniqueViolation(err)) {
        const winner = await this.rooms.findByClientId(author.id, clientId);
        if (winner) return { message: winner, duplicate: true };
      }
      throw err;
    }
    await this.bus.publish({ type: 'chat.message.created', message: stored.message });
    for (const notification of stored.notifications) await this.bus.publish({ type: 'notification.created', notification });
    return { message: stored.message, duplicate: false };
  }

  /** What a reader joining the room gets first: the latest messages, or everything after `afterSeq`. */
  async history(room: RoomEntity, afterSeq: number | undefined, limit: number): Promise<{ items: MessageEntity[]; position: number }> {
    if (afterSeq === undefined) {
      const items = await this.rooms.latestMessages(room.id, HISTORY_ON_JOIN);
      return { items, position: items.at(-1)?.seq ?? 0 };
    }
    const items = await this.rooms.messagesAfter(room.id, afterSeq, limit);
    return { items, position: items.at(-1)?.seq ?? afterSeq };
  }

  messagesAfter(room: RoomEntity, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return this.rooms.messagesAfter(room.id, afterSeq, limit);
  }
}
