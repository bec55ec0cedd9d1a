import { api, type AppNotification, type NotificationPage } from './api';
import type { EventHub } from './events/hub.svelte';
import { LoadRetry } from './load-retry';
import { insertNewestFirst } from './newest-first';
import type { NotificationReadData } from '@rt/protocol';
import type { StreamStatus, TopicEvent } from './events/types';

/** The signed-in user's topic on the shared stream. */
export const NOTIFICATIONS_TOPIC = 'notifications';

/** Keep memory bounded in a long-open tab. */
const MAX_ITEMS = 200;

/**
 * The signed-in user's notifications: the latest page over REST, then live on the browser's
 * shared event stream (topic `notifications`).
 *
 * The topic is followed from the page's `lastId`, so nothing created between the two is lost;
 * the hub applies each event once, in order. A `reset` (the stream could not resume the topic)
 * reloads the page. `notification-read` events (from this tab or another) mark items read and
 * carry the server's unread count.
 */
export class NotificationFeed {
  #items = $state.raw<readonly AppNotification[]>([]);
  #unread = $state(0);

  readonly #events: EventHub;
  readonly #limit: number;
  #unsubscribe: (() => void) | null = null;
  readonly #retry = new LoadRetry();
  #closed = false;

  constructor(events: EventHub, limit = 50) {
    this.#events = events;
    this.#limit = limit;
  }

  /** Newest first. */
  get items(): readonly AppNotification[] {
    return this.#items;
  }

  get unread(): number {
    return this.#unread;
  }

  /** The shared stream's state. */
  get status(): StreamStatus {
    return this.#events.status;
  }

  /** Load the latest page, then follow the topic. Retries by itself if the page cannot be loaded. */
  async start(): Promise<void> {
    let page: NotificationPage;
    try {
      page = await api.notifications(this.#limit);
    } catch {
      this.#retry.schedule(() => void this.start());
      return;
    }
    if (this.#closed) return;
    this.#retry.succeeded();
    const lastId = this.#accept(page);
    this.#unsubscribe = this.#events.subscribe(NOTIFICATIONS_TOPIC, lastId, this.#onEvent, () => this.#reload());
  }

  /** Mark one read on the server, then here (the `notification-read` event follows). Throws `ApiError`. */
  async markRead(id: number): Promise<void> {
    const notification = this.#items.find((n) => n.id === id);
    if (!notification || notification.read) return;
    await api.readNotification(id);
    if (!this.#closed) this.#markRead((n) => n.id === id);
  }

  /** Marks everything read on the server, then here. Throws `ApiError` on failure. */
  async markAllRead(): Promise<void> {
    await api.readAllNotifications();
    if (this.#closed) return;
    this.#items = this.#items.map((n) => (n.read ? n : { ...n, read: true }));
    this.#unread = 0;
  }

  close(): void {
    this.#closed = true;
    this.#retry.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /** Take a page as the new state; returns the log position it matches. */
  #accept(page: NotificationPage): number {
    const items = Array.isArray(page.items) ? page.items : [];
    this.#items = items.slice(0, MAX_ITEMS);
    this.#unread = typeof page.unread === 'number' ? page.unread : items.filter((n) => !n.read).length;
    return Math.max(page.lastId ?? 0, 0, ...items.map((n) => n.id));
  }

  /** After a `reset`: the page again. The hub applies the events after it that came meanwhile. */
  async #reload(): Promise<number> {
    const page = await api.notifications(this.#limit);
    if (this.#closed) return page.lastId ?? 0;
    return this.#accept(page);
  }

  #onEvent = (event: TopicEvent): void => {
    if (this.#closed || !event.data || typeof event.data !== 'object') return;
    if (event.event === 'notification') {
      const notification = event.data as AppNotification;
      if (typeof notification.id === 'number') this.#receive(notification);
    } else if (event.event === 'notification-read') {
      const read = event.data as Partial<NotificationReadData>;
      const ids = Array.isArray(read.ids) ? read.ids.filter((id): id is number => typeof id === 'number') : [];
      if (read.all) {
        // Read-all: everything up to ids[0] (everything, if the server did not say).
        const upTo = ids[0] ?? Infinity;
        this.#markRead((n) => n.id <= upTo);
      } else {
        const marked = new Set(ids);
        this.#markRead((n) => marked.has(n.id));
      }
      // The server's count wins over what was counted here.
      if (typeof read.unread === 'number') this.#unread = read.unread;
    }
  };

  #receive(notification: AppNotification): void {
    const items = this.#items;
    if (items.some((n) => n.id === notification.id)) return;
    this.#items = insertNewestFirst(items, notification, MAX_ITEMS);
    if (!notification.read) this.#unread += 1;
  }

  /** Mark the matching items read; the unread count drops by the ones that were not. */
  #markRead(match: (n: AppNotification) => boolean): void {
    let changed = 0;
    const next = this.#items.map((n) => {
      if (n.read || !match(n)) return n;
      changed += 1;
      return { ...n, read: true };
    });
    if (changed === 0) return;
    this.#items = next;
    this.#unread = Math.max(0, this.#unread - changed);
  }
}
