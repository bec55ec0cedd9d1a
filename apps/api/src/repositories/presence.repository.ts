import { Injectable } from '@nestjs/common';
import type { UserEntity } from '../domain/entities.js';

/**
 * Who is in which room now: per room, each user with the set of their connections there, so a
 * user with three tabs counts once and leaves only when the last tab does. Kept in this process;
 * with several instances it moves to a shared store with expiring entries, behind these methods.
 */
@Injectable()
export class PresenceRepository {
  private readonly rooms = new Map<string, Map<number, { user: UserEntity; connections: Set<string> }>>();

  /** Adds a connection; true when the user was not present before (the room's list changed). */
  add(room: string, user: UserEntity, connectionId: string): boolean {
    let users = this.rooms.get(room);
    if (!users) this.rooms.set(room, (users = new Map()));
    const entry = users.get(user.id);
    if (entry) {
      entry.connections.add(connectionId);
      return false;
    }
    users.set(user.id, { user, connections: new Set([connectionId]) });
    return true;
  }

  /** Removes a connection; true when it was the user's last one in the room. */
  remove(room: string, userId: number, connectionId: string): boolean {
    const users = this.rooms.get(room);
    const entry = users?.get(userId);
    if (!users || !entry || !entry.connections.delete(connectionId)) return false;
    if (entry.connections.size > 0) return false;
    users.delete(userId);
    if (users.size === 0) this.rooms.delete(room);
    return true;
  }

  /** The users present, by username. */
  users(room: string): UserEntity[] {
    return [...(this.rooms.get(room)?.values() ?? [])].map((e) => e.user).sort((a, b) => a.username.localeCompare(b.username));
  }

  count(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }
}
