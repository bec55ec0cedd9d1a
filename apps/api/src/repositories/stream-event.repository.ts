import { Injectable } from '@nestjs/common';
import type { StreamEntry } from '../domain/entities.js';
import { DatabaseRepository } from './database.repository.js';
import { exec, isoTime, many, sqlNow, type Unit } from './sql.js';

interface Row {
  stream: string;
  seq: number;
  type: string;
  data: string;
  createdAt: unknown;
}

function toEntry(row: Row): StreamEntry {
  return { stream: row.stream, seq: row.seq, type: row.type, data: JSON.parse(row.data) as Record<string, unknown>, createdAt: isoTime(row.createdAt) };
}

/** The durable SSE logs: one ordered table of entries, keyed by (stream, seq). */
@Injectable()
export class StreamEventRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Appends an entry at `seq`, which the caller took from the log owner's counter in the same
   * transaction (User.notificationSeq, Blog.lastSeq).
   */
  *append(stream: string, seq: number, type: string, data: Record<string, unknown>): Unit<StreamEntry> {
    const createdAt = sqlNow();
    yield* exec(`INSERT INTO "StreamEvent" ("stream", "seq", "type", "data", "createdAt") VALUES ($1, $2, $3, $4, $5)`, [stream, seq, type, JSON.stringify(data), createdAt]);
    return { stream, seq, type, data, createdAt: isoTime(createdAt) };
  }

  /** Entries with `seq > after`, oldest first, at most `limit` (replay: prepared statement). */
  async after(stream: string, after: number, limit: number): Promise<StreamEntry[]> {
    const rows = await this.db.read(
      many<Row>(`SELECT "stream", "seq", "type", "data", "createdAt" FROM "StreamEvent" WHERE "stream" = $1 AND "seq" > $2 ORDER BY "seq" ASC LIMIT $3`, [stream, after, limit]),
    );
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
