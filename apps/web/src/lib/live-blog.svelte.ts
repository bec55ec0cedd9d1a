import { api, ApiError, type Blog, type BlogSnapshot, type BlogUpdate } from './api';
import type { EventHub } from './events/hub.svelte';
import { Backoff, LOAD_BACKOFF_BASE_MS, LOAD_BACKOFF_CAP_MS } from '@rt/protocol';
import type { TopicEvent } from './events/types';

/** Keep memory bounded in a long-open tab: the oldest updates drop off the end. */
const MAX_UPDATES = 500;

export type BlogLoadState = 'loading' | 'ready' | 'missing' | 'error';

export function blogTopic(id: number): string {
  return `blog:${id}`;
}

/** The fields of an update, out of an event's data (which also carries `topic` and `sentAt`). */
function toUpdate(data: unknown): BlogUpdate | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Partial<BlogUpdate>;
  if (typeof d.id !== 'number' || typeof d.body !== 'string') return null;
  return {
    id: d.id,
    body: d.body,
    createdAt: typeof d.createdAt === 'string' ? d.createdAt : new Date().toISOString(),
    editedAt: typeof d.editedAt === 'string' ? d.editedAt : null,
  };
}

/**
 * One live blog: its snapshot over REST (`GET /api/blogs/:id`), then live on the browser's
 * shared event stream (topic `blog:ID`, from the snapshot's `lastEventId`): `update`,
 * `update-edited`, `update-deleted` and `blog-ended`. Public: works signed out.
 *
 * The owner's own actions show as soon as the server answers; the events that follow for them
 * are recognised by the update's id.
 */
export class LiveBlog {
  readonly id: number;
  #blog = $state.raw<Blog | null>(null);
  /** Newest first, by id. */
  #updates = $state.raw<readonly BlogUpdate[]>([]);
  #state = $state<BlogLoadState>('loading');
  #error = $state<string | null>(null);

  readonly #events: EventHub;
  #unsubscribe: (() => void) | null = null;
  /** Updates deleted while seen here: a late `update` for one of them is not shown again. */
  readonly #deleted = new Set<number>();
  readonly #backoff = new Backoff({ baseMs: LOAD_BACKOFF_BASE_MS, capMs: LOAD_BACKOFF_CAP_MS });
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(id: number, events: EventHub) {
    this.id = id;
    this.#events = events;
  }

  get blog(): Blog | null {
    return this.#blog;
  }

  get updates(): readonly BlogUpdate[] {
    return this.#updates;
  }

  get state(): BlogLoadState {
    return this.#state;
  }

  /** Why the snapshot could not be loaded (retried by itself), if it could not. */
  get error(): string | null {
    return this.#error;
  }

  get ended(): boolean {
    return this.#blog?.endedAt != null;
  }

  /** Load the snapshot, then follow the topic. Retries by itself unless the blog does not exist. */
  async start(): Promise<void> {
    let snapshot: BlogSnapshot;
    try {
      snapshot = await api.blog(this.id);
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof ApiError && err.status === 404) {
        this.#state = 'missing';
        return;
      }
      this.#state = 'error';
      this.#error = err instanceof Error ? err.message : String(err);
      this.#retry(() => void this.start());
      return;
    }
    if (this.#closed) return;
    const lastEventId = this.#accept(snapshot);
    this.#unsubscribe = this.#events.subscribe(blogTopic(this.id), lastEventId, this.#onEvent, () => this.#reload());
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /** Owner only. Throws `ApiError` (403, 409 once ended, 413 too long) with the server's message. */
  async post(body: string): Promise<void> {
    const update = await api.postBlogUpdate(this.id, body);
    if (!this.#closed) this.#upsert(update, true);
  }

  /** Owner only. Throws `ApiError`. */
  async edit(updateId: number, body: string): Promise<void> {
    const update = await api.editBlogUpdate(this.id, updateId, body);
    if (!this.#closed) this.#upsert(update, true);
  }

  /** Owner only. Throws `ApiError`. */
  async remove(updateId: number): Promise<void> {
    await api.deleteBlogUpdate(this.id, updateId);
    if (!this.#closed) this.#delete(updateId);
  }

  /** Owner only: nothing can be posted after. Throws `ApiError`. */
  async end(): Promise<void> {
    const blog = await api.endBlog(this.id);
    if (this.#closed) return;
    const current = this.#blog;
    // The answer's `endedAt` is the one the `blog-ended` event carries too.
    this.#blog = current ? { ...current, ...blog, following: blog.following ?? current.following } : blog;
  }

  /** Signed in only. Throws `ApiError`. */
  async setFollowing(follow: boolean): Promise<void> {
    if (follow) await api.followBlog(this.id);
    else await api.unfollowBlog(this.id);
    const blog = this.#blog;
    if (this.#closed || !blog || blog.following === follow) return;
    this.#blog = { ...blog, following: follow, followers: Math.max(0, blog.followers + (follow ? 1 : -1)) };
  }

  /** Take a snapshot as the new state; returns the log position it matches. */
  #accept(snapshot: BlogSnapshot): number {
    this.#blog = snapshot.blog;
    const updates = Array.isArray(snapshot.updates) ? snapshot.updates : [];
    this.#updates = [...updates].sort((a, b) => b.id - a.id).slice(0, MAX_UPDATES);
    this.#state = 'ready';
    this.#error = null;
    this.#backoff.succeeded();
    return typeof snapshot.lastEventId === 'number' ? snapshot.lastEventId : 0;
  }

  /** After a `reset`: the snapshot again. The hub applies the events after it that came meanwhile. */
  async #reload(): Promise<number> {
    const snapshot = await api.blog(this.id);
    if (this.#closed) return snapshot.lastEventId;
    return this.#accept(snapshot);
  }

  #onEvent = (event: TopicEvent): void => {
    if (this.#closed) return;
    switch (event.event) {
      case 'update': {
        const update = toUpdate(event.data);
        if (update) this.#upsert(update, false);
        break;
      }
      case 'update-edited': {
        const update = toUpdate(event.data);
        if (update) this.#upsert(update, true, false);
        break;
      }
      case 'update-deleted': {
        const id = (event.data as { id?: unknown } | null)?.id;
        if (typeof id === 'number') this.#delete(id);
        break;
      }
      case 'blog-followers': {
        const followers = (event.data as { followers?: unknown } | null)?.followers;
        const blog = this.#blog;
        if (blog && typeof followers === 'number' && Number.isSafeInteger(followers) && followers >= 0) this.#blog = { ...blog, followers };
        break;
      }
      case 'blog-ended': {
        const endedAt = (event.data as { endedAt?: unknown } | null)?.endedAt;
        const blog = this.#blog;
        if (blog && !blog.endedAt) {
          this.#blog = { ...blog, endedAt: typeof endedAt === 'string' ? endedAt : new Date().toISOString() };
        }
        break;
      }
      default:
        break;
    }
  };

  /**
   * Add an update, or replace the one with its id when `replace` (an edit, or the server's
   * answer). `insert: false` only replaces: an edit of an update older than the ones held is not
   * worth showing out of context.
   */
  #upsert(update: BlogUpdate, replace: boolean, insert = true): void {
    if (this.#deleted.has(update.id)) return;
    const list = this.#updates;
    const at = list.findIndex((u) => u.id === update.id);
    if (at !== -1) {
      if (replace) this.#updates = list.map((u, i) => (i === at ? update : u));
      return;
    }
    if (!insert) return;
    const before = list.findIndex((u) => u.id < update.id);
    const next = before === -1 ? [...list, update] : [...list.slice(0, before), update, ...list.slice(before)];
    this.#updates = next.length > MAX_UPDATES ? next.slice(0, MAX_UPDATES) : next;
  }

  #delete(id: number): void {
    this.#deleted.add(id);
    if (this.#updates.some((u) => u.id === id)) this.#updates = this.#updates.filter((u) => u.id !== id);
  }

  #retry(run: () => void): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) run();
    }, this.#backoff.next());
  }
}
