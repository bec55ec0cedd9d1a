import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { UserEntity } from '../domain/entities.js';
import { RedisRepository } from './redis.repository.js';

/**
 * Who is in which room now. A user with three tabs counts once and leaves only when the last tab
 * does. `add` and `remove` say whether the room's list may have changed (the caller then tells
 * the room); saying so when it did not is harmless, the list is sent whole.
 */
export abstract class PresenceRepository {
  /** Adds a connection; true when the user was not present before (the room's list changed). */
  abstract add(room: string, user: UserEntity, connectionId: string): Promise<boolean>;
  /** Removes a connection; true when it was the user's last one in the room. */
  abstract remove(room: string, userId: number, connectionId: string): Promise<boolean>;
  /** The users present, by username. */
  abstract users(room: string): Promise<UserEntity[]>;
  /** How many users are present in each of `rooms`. */
  abstract counts(rooms: string[]): Promise<Map<string, number>>;
  /**
   * `handler(room)` runs when users left a room without saying so (their instance died and its
   * entries expired). Returns a function that removes it.
   */
  onVanished(handler: (room: string) => void): () => void {
    this.vanishedHandlers.add(handler);
    return () => this.vanishedHandlers.delete(handler);
  }

  protected readonly vanishedHandlers = new Set<(room: string) => void>();
}

/** This instance's connections, per room and user. */
class LocalPresence {
  readonly rooms = new Map<string, Map<number, { user: UserEntity; connections: Set<string> }>>();

  /** True when this is the user's first connection in the room here. */
  add(room: string, user: UserEntity, connectionId: string): boolean {
    let users = this.rooms.get(room);
    if (!users) this.rooms.set(room, (users = new Map<number, { user: UserEntity; connections: Set<string> }>()));
    const entry = users.get(user.id);
    if (entry) {
      entry.connections.add(connectionId);
      return false;
    }
    users.set(user.id, { user, connections: new Set([connectionId]) });
    return true;
  }

  /** True when it was the user's last connection in the room here. */
  remove(room: string, userId: number, connectionId: string): boolean {
    const users = this.rooms.get(room);
    const entry = users?.get(userId);
    if (!users || !entry || !entry.connections.delete(connectionId)) return false;
    if (entry.connections.size > 0) return false;
    users.delete(userId);
    if (users.size === 0) this.rooms.delete(room);
    return true;
  }

  users(room: string): UserEntity[] {
    return byUsername([...(this.rooms.get(room)?.values() ?? [])].map((e) => e.user));
  }
}

function byUsername(users: UserEntity[]): UserEntity[] {
  return users.sort((a, b) => a.username.localeCompare(b.username));
}

/** The embedded default: one process knows every connection. */
@Injectable()
export class InProcessPresenceRepository extends PresenceRepository {
  private readonly local = new LocalPresence();

  add(room: string, user: UserEntity, connectionId: string): Promise<boolean> {
    return Promise.resolve(this.local.add(room, user, connectionId));
  }

  remove(room: string, userId: number, connectionId: string): Promise<boolean> {
    return Promise.resolve(this.local.remove(room, userId, connectionId));
  }

  users(room: string): Promise<UserEntity[]> {
    return Promise.resolve(this.local.users(room));
  }

  counts(rooms: string[]): Promise<Map<string, number>> {
    return Promise.resolve(new Map(rooms.map((room) => [room, this.local.rooms.get(room)?.size ?? 0])));
  }
}

/**
 * Presence shared by every instance through Redis (REDIS_URL). Per room, a sorted set holds one
 * entry per user per instance (`[instanceId, userId, username]`), scored with its expiry time.
 * Each instance counts its own connections and refreshes its entries every third of
 * INSTANCE_TTL_SECONDS; a crashed instance stops refreshing, so its users disappear within the
 * TTL, and whichever instance sweeps the expired entries first tells the room.
 *
 * While Redis is unreachable the answers fall back to this instance's own connections, and the
 * refresh puts everything back once Redis returns.
 */
@Injectable()
export class RedisPresenceRepository extends PresenceRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Presence');
  private readonly local = new LocalPresence();
  private readonly ttlMs: number;
  private readonly roomsKey: string;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
    this.ttlMs = config.instanceTtlSeconds * 1000;
    this.roomsKey = redis.key('presence:rooms');
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.refresh(), Math.max(1000, this.ttlMs / 3));
    this.timer.unref();
  }

  /** Takes this instance's entries out at once, rather than letting them expire. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    const batch = this.redis.commands.multi();
    for (const [room, users] of this.local.rooms) {
      for (const { user } of users.values()) batch.zrem(this.roomKey(room), this.member(user));
    }
    await batch.exec().catch(() => undefined);
  }

  async add(room: string, user: UserEntity, connectionId: string): Promise<boolean> {
    if (!this.local.add(room, user, connectionId)) return false;
    await this.attempt(() => this.redis.commands.multi().zadd(this.roomKey(room), Date.now() + this.ttlMs, this.member(user)).sadd(this.roomsKey, room).exec());
    return true;
  }

  async remove(room: string, userId: number, connectionId: string): Promise<boolean> {
    const user = this.local.rooms.get(room)?.get(userId)?.user;
    if (!user || !this.local.remove(room, userId, connectionId)) return false;
    await this.attempt(() => this.redis.commands.zrem(this.roomKey(room), this.member(user)));
    return true;
  }

  async users(room: string): Promise<UserEntity[]> {
    const members = await this.attempt(() => this.redis.commands.zrangebyscore(this.roomKey(room), Date.now(), '+inf'));
    if (!members) return this.local.users(room);
    return byUsername([...this.parse(members).values()]);
  }

  async counts(rooms: string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const batch = this.redis.commands.pipeline();
    for (const room of rooms) batch.zrangebyscore(this.roomKey(room), now, '+inf');
    const results = rooms.length ? await this.attempt(() => batch.exec()) : [];
    return new Map(
      rooms.map((room, i) => {
        const [err, members] = results?.[i] ?? [new Error('unavailable'), null];
        return [room, err ? (this.local.rooms.get(room)?.size ?? 0) : this.parse(members as string[]).size];
      }),
    );
  }

  /**
   * Keeps this instance's entries alive, and sweeps expired ones (any instance's) from every
   * room, telling the rooms that lost someone.
   */
  async refresh(now = Date.now()): Promise<void> {
    const batch = this.redis.commands.multi();
    for (const [room, users] of this.local.rooms) {
      for (const { user } of users.values()) batch.zadd(this.roomKey(room), now + this.ttlMs, this.member(user));
      batch.sadd(this.roomsKey, room);
    }
    if (this.local.rooms.size > 0 && !(await this.attempt(() => batch.exec()))) return;
    const rooms = await this.attempt(() => this.redis.commands.smembers(this.roomsKey));
    if (!rooms?.length) return;
    const sweep = this.redis.commands.pipeline();
    for (const room of rooms) sweep.zremrangebyscore(this.roomKey(room), '-inf', now);
    const removed = await this.attempt(() => sweep.exec());
    removed?.forEach(([err, count], i) => {
      if (!err && Number(count) > 0) for (const handler of this.vanishedHandlers) handler(rooms[i]!);
    });
  }

  private roomKey(room: string): string {
    return this.redis.key(`presence:room:${room}`);
  }

  private member(user: UserEntity): string {
    return JSON.stringify([this.config.instanceId, user.id, user.username]);
  }

  /** Members → users, one per user id (a user on two instances has two entries). */
  private parse(members: string[]): Map<number, UserEntity> {
    const users = new Map<number, UserEntity>();
    for (const member of members) {
      try {
        const [, id, username] = JSON.parse(member) as [string, number, string];
        if (typeof id === 'number' && typeof username === 'string') users.set(id, { id, username });
      } catch {
        // not ours: ignore
      }
    }
    return users;
  }

  /** Runs a Redis call; on failure logs once per outage and returns null. */
  private async attempt<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      this.logger.debug(`Redis unavailable: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }
}
