import { Injectable } from '@nestjs/common';

/** A user's simulated network trouble, shared by reference with each of their connections. */
export interface Impairment {
  delayMs: number;
  jitterMs: number;
  /** Epoch ms until which deliveries are held. */
  pausedUntil: number;
}

/**
 * Network simulation state per user (the metrics overlay's "add delay", "pause"). Only the
 * caller's own connections are affected. Kept in this process: it is a test tool, not data.
 */
@Injectable()
export class NetsimRepository {
  private readonly byUser = new Map<number, Impairment>();
  private readonly schedulers = new Map<number, DeliveryScheduler>();

  /** The user's impairment object (created inert); connections keep the reference. */
  for(userId: number): Impairment {
    let impairment = this.byUser.get(userId);
    if (!impairment) this.byUser.set(userId, (impairment = { delayMs: 0, jitterMs: 0, pausedUntil: 0 }));
    return impairment;
  }

  /**
   * The one scheduler of all the user's connections (one queue keeps their deliveries in the
   * order they were asked for): a connection holds a reference, not a scheduler of its own.
   */
  scheduler(userId: number): DeliveryScheduler {
    let scheduler = this.schedulers.get(userId);
    if (!scheduler) this.schedulers.set(userId, (scheduler = new DeliveryScheduler(this.for(userId))));
    return scheduler;
  }

  impair(userId: number, delayMs: number, jitterMs: number): void {
    Object.assign(this.for(userId), { delayMs, jitterMs });
  }

  pause(userId: number, seconds: number): void {
    this.for(userId).pausedUntil = Date.now() + seconds * 1000;
  }
}

/**
 * Runs a connection's writes now, or later when its user's deliveries are impaired, always in
 * the order they were asked for (a write never overtakes an earlier delayed one).
 */
export class DeliveryScheduler {
  /** Writes waiting, in order, each with the time it may go out (non-decreasing). */
  private readonly queue: { at: number; write: () => void }[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly impairment?: Impairment) {}

  /** Nothing is waiting and nothing is impaired: a write may go out at once (no need to call `run`). */
  idle(): boolean {
    const i = this.impairment;
    return this.queue.length === 0 && (i === undefined || (i.delayMs <= 0 && i.jitterMs <= 0 && (i.pausedUntil === 0 || i.pausedUntil <= Date.now())));
  }

  run(write: () => void): void {
    if (this.idle()) {
      write();
      return;
    }
    const now = Date.now();
    const i = this.impairment;
    const impaired = i !== undefined && (i.delayMs > 0 || i.jitterMs > 0 || i.pausedUntil > now);
    const wanted = impaired ? now + i.delayMs + Math.random() * i.jitterMs : now;
    const at = Math.max(wanted, i?.pausedUntil ?? 0, this.queue.at(-1)?.at ?? 0);
    this.queue.push({ at, write });
    this.arm();
  }

  /** One timer for the head of the queue (timers of different lengths do not fire in a guaranteed order). */
  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      while (this.queue.length && this.queue[0]!.at <= now) this.queue.shift()!.write();
      this.arm();
    }, Math.max(0, this.queue[0]!.at - Date.now()));
    this.timer.unref();
  }
}
