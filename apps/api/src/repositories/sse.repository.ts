import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GaplessCursor, type CursorSource } from '../domain/gapless-cursor.js';
import type { SequencedFrame } from './websocket.repository.js';

export interface SseStreamOptions {
  /** Sent as `retry:` on connect: how long the browser waits before reconnecting. */
  retryMs: number;
  /** Interval of the `: heartbeat` comment that keeps proxies from closing an idle stream. */
  heartbeatMs: number;
}

/** The response headers of every event stream (see docs/protocol.md). */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/** One open event stream: a response we keep writing to. */
class SseStream {
  private heartbeat?: NodeJS.Timeout;
  cursor?: GaplessCursor<SequencedFrame>;
  closed = false;

  constructor(
    readonly userId: number,
    private readonly res: ServerResponse,
  ) {}

  open(options: SseStreamOptions): void {
    this.res.writeHead(200, SSE_HEADERS);
    this.res.socket?.setNoDelay(true);
    this.write(`retry: ${options.retryMs}\n\n`);
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), options.heartbeatMs);
    this.heartbeat.unref();
  }

  write(chunk: string): void {
    if (!this.closed && !this.res.writableEnded) this.res.write(chunk);
  }

  /** Stops timers and the cursor; ends the response if it is still open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.cursor?.stop();
    if (!this.res.writableEnded) this.res.end();
  }
}

/**
 * The registry of open SSE streams, by user. Everything the server writes to an event stream
 * goes through here. Written by hand rather than with `@Sse()`: we need our own ids and
 * replay, frames prepared once and written to many responses, a heartbeat, and exact cleanup.
 */
@Injectable()
export class SseRepository implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SSE');
  private readonly byUser = new Map<number, Set<SseStream>>();

  get connectionCount(): number {
    let count = 0;
    for (const streams of this.byUser.values()) count += streams.size;
    return count;
  }

  /**
   * Starts an event stream on `res` for `userId`: headers, `retry:`, the replay `source`
   * describes, then live events, each once, in order. Cleans up when the client goes away.
   */
  async open(req: IncomingMessage, res: ServerResponse, userId: number, source: CursorSource<SequencedFrame>, options: SseStreamOptions): Promise<void> {
    const stream = new SseStream(userId, res);
    stream.cursor = new GaplessCursor<SequencedFrame>({
      source,
      deliver: (item) => stream.write(item.frame),
      onError: (err) => {
        this.logger.error(`user ${userId}: cannot keep the stream in order; ending it`, err instanceof Error ? err.stack : String(err));
        this.remove(stream);
      },
    });
    let streams = this.byUser.get(userId);
    if (!streams) this.byUser.set(userId, (streams = new Set()));
    streams.add(stream);
    const onClose = () => this.remove(stream);
    req.once('close', onClose);
    res.once('close', onClose);
    stream.open(options);
    await stream.cursor.start();
  }

  /** Offers one prepared event to every stream of the user. */
  deliverToUser(userId: number, item: SequencedFrame): void {
    const streams = this.byUser.get(userId);
    if (!streams) return;
    for (const stream of streams) stream.cursor?.offer(item);
  }

  /** On shutdown, end every stream so the HTTP server can close and browsers reconnect elsewhere. */
  beforeApplicationShutdown(): void {
    this.closeAll();
  }

  /** Ends every stream: browsers reconnect with Last-Event-ID. */
  closeAll(): void {
    for (const streams of this.byUser.values()) for (const stream of streams) this.remove(stream);
  }

  private remove(stream: SseStream): void {
    stream.close();
    const streams = this.byUser.get(stream.userId);
    streams?.delete(stream);
    if (streams?.size === 0) this.byUser.delete(stream.userId);
  }
}
