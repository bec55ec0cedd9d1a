import { api, type AppNotification } from './api';

export type FeedStatus = 'connecting' | 'live' | 'reconnecting';

const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 30_000;
/** Keep memory bounded in a long-open tab. */
const MAX_ITEMS = 200;

/**
 * The signed-in user's notifications: the latest page over REST, then live over SSE.
 *
 * The stream is opened with `?lastEventId=<lastId>` from the page, so nothing created between
 * the two requests is lost; after a drop the browser reconnects by itself with `Last-Event-ID`
 * and the server replays what was missed. Items are de-duplicated by id either way.
 */
export class NotificationFeed {
  #items = $state.raw<readonly AppNotification[]>([]);
  #unread = $state(0);
  #status = $state<FeedStatus>('connecting');

  readonly #limit: number;
  #source: EventSource | null = null;
  /** Highest id we hold: where a hand-made reconnect resumes. */
  #lastId = 0;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(limit = 50) {
    this.#limit = limit;
  }

  /** Newest first. */
  get items(): readonly AppNotification[] {
    return this.#items;
  }

  get unread(): number {
    return this.#unread;
  }

  get status(): FeedStatus {
    return this.#status;
  }

  /** Load the latest page, then open the stream. Retries by itself if the page cannot be loaded. */
  async start(): Promise<void> {
    try {
      const page = await api.notifications(this.#limit);
      if (this.#closed) return;
      this.#items = page.items;
      this.#unread = page.unread;
      this.#lastId = Math.max(page.lastId ?? 0, ...page.items.map((n) => n.id));
    } catch {
      if (this.#closed) return;
      this.#status = 'reconnecting';
      this.#retry(() => void this.start());
      return;
    }
    this.#open();
  }

  /** Marks everything read on the server, then here. Throws `ApiError` on failure. */
  async markAllRead(): Promise<void> {
    await api.readAllNotifications();
    this.#items = this.#items.map((n) => (n.read ? n : { ...n, read: true }));
    this.#unread = 0;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#source?.close();
    this.#source = null;
  }

  #open(): void {
    const source = new EventSource(`/api/notifications/stream?lastEventId=${this.#lastId}`);
    this.#source = source;

    source.addEventListener('open', () => {
      if (source !== this.#source) return;
      this.#status = 'live';
      this.#attempt = 0;
    });
    source.addEventListener('error', () => {
      if (source !== this.#source) return;
      this.#status = 'reconnecting';
      // CONNECTING: the browser is already retrying (it honours the server's `retry:`).
      // CLOSED: it gave up for good (a non-200 answer such as 401, or a wrong content type),
      // so reopen by hand, resuming after the last id we hold.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        this.#source = null;
        this.#retry(() => this.#open());
      }
    });
    source.addEventListener('notification', (event: MessageEvent<string>) => {
      if (source !== this.#source) return;
      let notification: AppNotification;
      try {
        notification = JSON.parse(event.data) as AppNotification;
      } catch {
        return;
      }
      if (typeof notification?.id === 'number') this.#receive(notification);
    });
  }

  #receive(notification: AppNotification): void {
    if (notification.id > this.#lastId) this.#lastId = notification.id;
    const items = this.#items;
    if (items.some((n) => n.id === notification.id)) return;

    // Ids grow, so this is nearly always the front; replayed ones still land in order.
    const at = items.findIndex((n) => n.id < notification.id);
    const next =
      at === -1 ? [...items, notification] : [...items.slice(0, at), notification, ...items.slice(at)];
    this.#items = next.length > MAX_ITEMS ? next.slice(0, MAX_ITEMS) : next;
    if (!notification.read) this.#unread += 1;
  }

  #retry(run: () => void): void {
    if (this.#closed) return;
    const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) run();
    }, Math.random() * ceiling);
  }
}
