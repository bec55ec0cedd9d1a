import { Injectable, Logger } from '@nestjs/common';
import type { DomainEvent } from '../domain/events.js';

export type DomainEventHandler = (event: DomainEvent) => void;

/**
 * Carries committed domain events to every instance's fan-out. Publishers call it only after the
 * change is durable, so a subscriber that misses an event (a dropped bus message, a restart) can
 * always recover it from the database log: the bus is a doorbell, the log is the truth.
 */
export abstract class EventBus {
  abstract publish(event: DomainEvent): Promise<void>;
  /** Returns a function that removes the handler. */
  abstract subscribe(handler: DomainEventHandler): () => void;
}

/** The embedded default: one process, handlers called synchronously in publish order. */
@Injectable()
export class InProcessEventBus extends EventBus {
  private readonly logger = new Logger('EventBus');
  private readonly handlers = new Set<DomainEventHandler>();

  publish(event: DomainEvent): Promise<void> {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.logger.error(`handler failed for ${event.type}`, err instanceof Error ? err.stack : String(err));
      }
    }
    return Promise.resolve();
  }

  subscribe(handler: DomainEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
}
