import { Injectable } from '@nestjs/common';
import type { StreamEntry } from '../domain/entities.js';
import { DatabaseRepository, type Tx } from './database.repository.js';

interface Row {
  stream: string;
  seq: number;
  type: string;
  data: string;
  createdAt: Date;
}

function toEntry(row: Row): StreamEntry {
  return { stream: row.stream, seq: row.seq, type: row.type, data: JSON.parse(row.data) as Record<string, unknown>, createdAt: row.createdAt.toISOString() };
}

/** The durable SSE logs: one ordered table of entries, keyed by (stream, seq). */
@Injectable()
export class StreamEventRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Appends an entry at `seq`, which the caller took from the log owner's counter in the same
   * transaction (User.notificationSeq, Blog.lastSeq).
   */
  async append(tx: Tx, stream: string, seq: number, type: string, data: Record<string, unknown>): Promise<StreamEntry> {
    const row = await tx.streamEvent.create({ data: { stream, seq, type, data: JSON.stringify(data) } });
    return toEntry(row);
  }

  /** Entries with `seq > after`, oldest first, at most `limit`. */
  async after(stream: string, after: number, limit: number): Promise<StreamEntry[]> {
    const rows = await this.db.client.streamEvent.findMany({ where: { stream, seq: { gt: after } }, orderBy: { seq: 'asc' }, take: limit });
    return rows.map(toEntry);
  }

  /**
   * The oldest position a reader can resume from: one below the oldest entry kept, or `last`
   * when nothing is kept (everything up to `last` was pruned, or the log is empty).
   */
  async floor(stream: string, last: number): Promise<number> {
    const oldest = await this.db.client.streamEvent.findFirst({ where: { stream }, orderBy: { seq: 'asc' }, select: { seq: true } });
    return oldest ? oldest.seq - 1 : last;
  }

  /**
   * Retention: deletes entries older than `maxAgeMs`, and in every log all but the newest
   * `keep` entries. Returns how many were deleted.
   */
  async prune(maxAgeMs: number, keep: number): Promise<number> {
    const byAge = await this.db.client.streamEvent.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - maxAgeMs) } } });
    const byCount = await this.db.client.$executeRaw`DELETE FROM "StreamEvent" WHERE "seq" <= (SELECT MAX(s2."seq") FROM "StreamEvent" s2 WHERE s2."stream" = "StreamEvent"."stream") - ${keep}`;
    return byAge.count + byCount;
  }
}
