import type { MessageEntity, NotificationEntity } from './entities.js';

/**
 * Domain events: what happened, published by services after the change is committed.
 * The fan-out layer turns them into WebSocket frames and SSE events. They are plain JSON so a
 * bus can carry them between processes.
 */
export type DomainEvent =
  | { type: 'chat.message.created'; message: MessageEntity }
  | { type: 'notification.created'; notification: NotificationEntity };

export type DomainEventType = DomainEvent['type'];
