import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { MessageChange, MessageEntity, RoomEntity, RoomSummary, StreamEntry, UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { outOfOrder, type SendTicket } from '../domain/send-order.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { NotificationRepository } from '../repositories/notification.repository.js';
import { PresenceRepository } from '../repositories/presence.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { RoomRepository } from '../repositories/room.repository.js';
import { UserRepository } from '../repositories/user.repository.js';

export const HISTORY_ON_JOIN = 50;
/** Typing signals from one user in one room closer together than this are dropped. */
export const TYPING_MIN_INTERVAL_MS = 1000;
const MENTION = /(?:^|[^a-z0-9_-])@([a-z0-9_-]{3,32})(?![a-z0-9_-])/g;
const MAX_MENTIONS = 20;

/** What post answers: the stored message (for a resend of a stored clientId, the one stored first). */
export interface PostResult {
  message: MessageEntity;
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
export class ChatService implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly rooms: RoomRepository,
    private readonly users: UserRepository,
    private readonly notifications: NotificationRepository,
    private readonly presence: PresenceRepository,
    private readonly rateLimit: RateLimitRepository,
    private readonly bus: EventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private readonly lastTyping = new Map<string, number>();
  private stopWatching?: () => void;

  /** Users whose instance died leave their rooms silently: tell those rooms. */
  onModuleInit(): void {
    this.stopWatching = this.presence.onVanished((room) => {
      void this.announcePresence(room).catch(() => undefined);
    });
  }

  onModuleDestroy(): void {
    this.stopWatching?.();
  }

  async listRooms(userId: number): Promise<(RoomSummary & { online: number })[]> {
    const rooms = await this.rooms.listFor(userId);
    const online = await this.presence.counts(rooms.map((room) => room.name));
    return rooms.map((room) => ({ ...room, online: online.get(room.name) ?? 0 }));
  }

  private async announcePresence(room: string): Promise<UserEntity[]> {
    const users = await this.presence.users(room);
    await this.bus.publish({ type: 'chat.presence.changed', room, users });
    return users;
  }

  async createRoom(name: string, creator: UserEntity): Promise<RoomEntity> {
    await this.rateLimit.enforce('create', creator.id, 'new rooms and blogs');
    const room = await this.rooms.create(name);
    if (!room) throw new DomainError('room_taken', `A room named "${name}" exists`);
    return room;
  }

  /** A member's summary of one room (after creating it, say). */
  async roomSummary(userId: number, name: string): Promise<RoomSummary & { online: number }> {
    const room = (await this.listRooms(userId)).find((r) => r.name === name);
    if (!room) throw new DomainError('room_not_found', `No room named "${name}"`);
    return room;
  }

  /** Older history, oldest first, for scrolling back. */
  async historyBefore(name: string, beforeSeq: number | undefined, limit: number): Promise<{ messages: MessageEntity[]; hasMore: boolean }> {
    const room = await this.getRoom(name);
    const page = await this.rooms.messagesBefore(room.id, beforeSeq, limit + 1);
    const hasMore = page.length > limit;
    return { messages: hasMore ? page.slice(1) : page, hasMore };
  }

  /**
   * A connection enters a room: the user becomes a member, and if this is their first
   * connection there, everyone in the room learns the new presence list.
   */
  async enter(user: UserEntity, room: RoomEntity, connectionId: string): Promise<UserEntity[]> {
    await this.rooms.addMember(room.id, user.id);
    if (await this.presence.add(room.name, user, connectionId)) return this.announcePresence(room.name);
    return this.presence.users(room.name);
  }

  /** A connection leaves a room (or disconnects). */
  async exit(user: UserEntity, room: string, connectionId: string): Promise<void> {
    if (await this.presence.remove(room, user.id, connectionId)) await this.announcePresence(room);
  }

  /** Tells the room the user is typing, at most once per TYPING_MIN_INTERVAL_MS. */
  async typing(user: UserEntity, room: string, now = Date.now()): Promise<void> {
    const key = `${room}\u0000${user.id}`;
    const last = this.lastTyping.get(key);
    if (last !== undefined && now - last < TYPING_MIN_INTERVAL_MS) return;
    this.lastTyping.set(key, now);
    if (this.lastTyping.size > 10_000) {
      for (const [k, at] of this.lastTyping) if (now - at > TYPING_MIN_INTERVAL_MS) this.lastTyping.delete(k);
    }
    await this.bus.publish({ type: 'chat.typing', room, user });
  }

  async markRead(user: UserEntity, name: string, seq: number): Promise<void> {
    const room = await this.getRoom(name);
    await this.rooms.markRead(room.id, user.id, seq);
  }

  /**
   * Edits the author's own message; everyone in the room gets `message-edited`. Async so that
   * invalid text is a rejection, not a throw: the gateway runs it in the connection's order
   * (WebSocketRepository.inOrder), and a throw there would answer before earlier frames' answers.
   */
  async edit(user: UserEntity, room: string, seq: number, rawText: string): Promise<MessageChange> {
    return this.change(user, room, seq, { kind: 'edited', text: this.checkText(rawText) });
  }

  /** Deletes the author's own message; everyone in the room gets `message-deleted`. */
  delete(user: UserEntity, room: string, seq: number): Promise<MessageChange> {
    return this.change(user, room, seq, { kind: 'deleted' });
  }

  private async change(user: UserEntity, name: string, seq: number, change: { kind: 'edited'; text: string } | { kind: 'deleted' }): Promise<MessageChange> {
    await this.rateLimit.enforce('write', user.id, 'edits and deletes');
    const room = await this.rooms.refByName(name);
    if (!room) throw new DomainError('room_not_found', `No room named "${name}"`);
    const outcome = await this.db.write(() => this.rooms.changeMessage(room, seq, user.id, change));
    if (!outcome.ok) {
      throw outcome.reason === 'forbidden'
        ? new DomainError('forbidden', 'You can only change your own messages')
        : new DomainError('message_not_found', `No message ${seq} in "${name}"`);
    }
    await this.bus.publish({ type: 'chat.message.changed', change: outcome.change });
    return outcome.change;
  }

  private checkText(raw: string): string {
    const text = raw.trim();
    const max = this.config.chatMaxTextChars;
    if (text.length === 0 || text.length > max) throw new DomainError('invalid', `text must be 1 to ${max} characters`);
    return text;
  }

  async getRoom(name: string): Promise<RoomEntity> {
    const room = await this.rooms.findByName(name);
    if (!room) throw new DomainError('room_not_found', `No room named "${name}"`);
    return room;
  }

  ensureRoom(name: string): Promise<RoomEntity> {
    return this.rooms.ensure(name);
  }

  /**
   * Stores a message and the mention notifications it causes in one transaction (a unit of the
   * group commit), then publishes them. Idempotent per (author, clientId): a resend returns the
   * stored message and publishes nothing new. Only new messages count against the rate limit,
   * decided inside the transaction once the message is known to be new, so a resend after a
   * reconnect is free.
   *
   * The unit takes its place in the writer's queue synchronously, before this returns: calls in a
   * given order are stored in that order (a sender's messages are pipelined, not one commit each).
   * `order` is the sender's place in its send order (domain/send-order.ts): asked inside the unit,
   * told of a refusal or failure at once, so a later message never overtakes a refused one.
   */
  post(author: UserEntity, roomName: string, rawText: string, clientId: string, order?: SendTicket): Promise<PostResult> {
    let text: string;
    try {
      text = this.checkText(rawText);
    } catch (err) {
      return Promise.reject(err);
    }
    const names = mentionedUsernames(text);
    let refusal: DomainError | undefined;
    const admit = (): boolean => {
      const owed = order?.take();
      if (owed !== undefined) {
        refusal = outOfOrder(owed);
        return false;
      }
      const decision = this.rateLimit.take(`chat:${author.id}`);
      if (decision.allowed) return true;
      refusal = new DomainError('rate_limited', `Too many messages; try again in ${decision.retryAfterMs} ms`, { retryAfterMs: decision.retryAfterMs });
      order?.refused(refusal);
      return false;
    };
    const { rooms, users, notifications: notices } = this;
    const stored = this.db.write(
      function* () {
        refusal = undefined;
        const room = yield* rooms.ref(roomName);
        if (!room) throw new DomainError('room_not_found', `No room named "${roomName}"`);
        const mentioned = names.length === 0 ? [] : (yield* users.byUsernames(names)).filter((u) => u.id !== author.id);
        const outcome = yield* rooms.appendMessage(room, author, text, clientId, admit);
        const entries: StreamEntry[] = [];
        if (outcome.kind !== 'stored') return { outcome, entries };
        for (const user of mentioned) {
          const { entry } = yield* notices.append({
            userId: user.id,
            kind: 'mention',
            title: `${author.username} mentioned you in #${room.name}`,
            body: text.length > 280 ? `${text.slice(0, 279)}…` : text,
            link: { room: room.name, seq: outcome.message.seq },
          });
          entries.push(entry);
        }
        return { outcome, entries };
      },
      (err) => order?.refused(err),
    );
    return stored.then(async ({ outcome, entries }) => {
      if (outcome.kind === 'refused') throw refusal ?? new DomainError('rate_limited', 'Too many messages; try again in 1000 ms', { retryAfterMs: 1000 });
      if (outcome.kind === 'duplicate') return { message: outcome.message };
      await this.bus.publish({ type: 'chat.message.created', message: outcome.message });
      for (const entry of entries) await this.bus.publish({ type: 'stream.appended', entry });
      return { message: outcome.message };
    });
  }

  /** What a reader joining the room gets first: the latest messages, or everything after `afterSeq`. */
  async history(room: RoomEntity, afterSeq: number | undefined, limit: number): Promise<{ items: MessageEntity[]; position: number }> {
    if (afterSeq === undefined) {
      const items = await this.rooms.messagesBefore(room.id, undefined, HISTORY_ON_JOIN);
      return { items, position: items.at(-1)?.seq ?? 0 };
    }
    const items = await this.rooms.messagesAfter(room.id, afterSeq, limit);
    return { items, position: items.at(-1)?.seq ?? afterSeq };
  }

  messagesAfter(room: RoomEntity, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return this.rooms.messagesAfter(room.id, afterSeq, limit);
  }

  /** For resume: the room's changes (edits, deletes) after a revision, oldest first. */
  changesAfter(room: RoomEntity, afterRev: number, limit: number): Promise<MessageChange[]> {
    return this.rooms.changesAfter(room.id, afterRev, limit);
  }
}
