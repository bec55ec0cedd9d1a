/** Something with a position in an ordered, gapless log (1, 2, 3, ...). */
export interface Sequenced {
  readonly seq: number;
}

export interface CursorSource<T extends Sequenced> {
  /**
   * The first load: what to send before live events and the position it brings the reader to.
   * `more: true` says the replay continues: the cursor then pages on with `after()` until a
   * short page, before anything live.
   */
  initial(): Promise<{ items: T[]; position: number; more?: boolean }>;
  /** Items with `seq > after`, oldest first, at most `limit`, read from the durable log. */
  after(after: number, limit: number): Promise<T[]>;
}

export interface CursorOptions<T extends Sequenced> {
  source: CursorSource<T>;
  /**
   * Sends one item to the reader. Called in strictly increasing `seq` order, once per seq.
   * `live` is false for items sent while reading the log (a replay or a catch-up, bounded by
   * the page size) and true for items passed straight through from `offer`.
   */
  deliver(item: T, live: boolean): void;
  /** Called once the initial load has been delivered, before anything live. */
  onCaughtUp?(position: number): void;
  /** The log could not be read or is inconsistent; the reader should be disconnected to resume later. */
  onError(err: unknown): void;
  /** Page size for catch-up reads. */
  pageSize?: number;
  /**
   * The log may skip numbers on purpose (an entry superseded by a later one, as in a room's
   * revision log, where a message keeps only its latest revision): items read from the log are
   * then delivered whenever they are ahead of the position, not only at `position + 1`. Live
   * items still wait for `position + 1`, and a hole still sends the cursor to the log, whose
   * answer then reaches at least the held item (it or the entry that superseded it).
   */
  sparse?: boolean;
}

/**
 * Keeps one reader of one ordered log exactly in step: no gap, no duplicate, no reordering,
 * whatever order live events arrive in and however they interleave with the replay.
 *
 * Live events are offered as they come from the bus. While the cursor is reading the log
 * (the initial replay, or filling a hole) they wait in a buffer. An event at `position + 1` is
 * delivered at once; one at or below `position` is a duplicate and dropped; one further ahead
 * means an earlier event has not reached us, so the missing range is read from the log. That
 * read cannot come back short: sequence numbers are assigned inside the writing transaction, so
 * when event N is published every event before N is already committed.
 */
export class GaplessCursor<T extends Sequenced> {
  private position = 0;
  private reading = true;
  private buffer: T[] = [];
  private stopped = false;
  private readonly pageSize: number;

  constructor(private readonly options: CursorOptions<T>) {
    this.pageSize = options.pageSize ?? 500;
  }

  /** The last seq delivered (or skipped as already known by the reader). */
  get current(): number {
    return this.position;
  }

  /** Runs the initial load, then everything that was offered meanwhile. */
  async start(): Promise<void> {
    try {
      const { items, position, more } = await this.options.source.initial();
      if (this.stopped) return;
      for (const item of items) this.options.deliver(item, false);
      this.position = position;
      let again = more ?? false;
      while (again) {
        const page = await this.options.source.after(this.position, this.pageSize);
        if (this.stopped) return;
        this.deliverRun(page);
        again = page.length === this.pageSize;
      }
      this.options.onCaughtUp?.(this.position);
      await this.fill();
    } catch (err) {
      this.fail(err);
    }
  }

  /** A live event from the bus. */
  offer(item: T): void {
    if (this.stopped) return;
    if (this.reading) {
      this.buffer.push(item);
      return;
    }
    if (item.seq <= this.position) return;
    if (item.seq === this.position + 1) {
      this.position = item.seq;
      this.options.deliver(item, true);
      return;
    }
    this.reading = true;
    this.buffer.push(item);
    this.fill().catch((err: unknown) => this.fail(err));
  }

  /**
   * Reads the log past the current position now, without waiting for a live event to reveal a
   * gap: for when the bus may have dropped events (it reconnected), so a quiet log's last
   * entries are not held back until its next event. A cursor already reading does nothing more.
   */
  catchUp(): void {
    if (this.stopped || this.reading) return;
    this.reading = true;
    const read = async () => {
      for (;;) {
        const page = await this.options.source.after(this.position, this.pageSize);
        if (this.stopped) return;
        this.deliverRun(page);
        if (page.length < this.pageSize) break;
      }
      await this.fill();
    };
    read().catch((err: unknown) => this.fail(err));
  }

  stop(): void {
    this.stopped = true;
    this.buffer = [];
  }

  /** Delivers the buffer in order, reading from the log whatever is missing before it. */
  private async fill(): Promise<void> {
    while (!this.stopped) {
      this.buffer.sort((a, b) => a.seq - b.seq);
      let i = 0;
      for (; i < this.buffer.length; i++) {
        const item = this.buffer[i]!;
        if (item.seq <= this.position) continue;
        if (item.seq !== this.position + 1) break;
        this.position = item.seq;
        this.options.deliver(item, false);
      }
      this.buffer = this.buffer.slice(i);
      if (this.buffer.length === 0) {
        this.reading = false;
        return;
      }
      const before = this.position;
      const missing = await this.options.source.after(this.position, this.pageSize);
      if (this.stopped) return;
      this.deliverRun(missing);
      if (this.position === before) {
        throw new Error(`log has no entry ${before + 1} although ${this.buffer[0]!.seq} was published`);
      }
    }
  }

  /** Delivers the items that continue the sequence from the current position. */
  private deliverRun(items: T[]): void {
    for (const item of items) {
      if (this.options.sparse ? item.seq <= this.position : item.seq !== this.position + 1) continue;
      this.position = item.seq;
      this.options.deliver(item, false);
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.options.onError(err);
  }
}
