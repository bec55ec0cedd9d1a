import { api, type Blog } from './api';

/** How often the list (follower counts, ended blogs, new blogs) is fetched again. */
const REFRESH_INTERVAL_MS = 15_000;

/** The live blogs, newest first, from `GET /api/blogs`. */
export class BlogDirectory {
  #blogs = $state.raw<readonly Blog[]>([]);
  #loaded = $state(false);
  /** Why the latest fetch failed, if it did (the last list stays shown). */
  #loadError = $state<string | null>(null);

  #timer: ReturnType<typeof setInterval> | undefined;
  /** Answers of older fetches that come back late must not replace a newer list. */
  #fetchId = 0;
  #closed = false;

  get items(): readonly Blog[] {
    return this.#blogs;
  }

  /** True once a list has come back. */
  get loaded(): boolean {
    return this.#loaded;
  }

  get loadError(): string | null {
    return this.#loadError;
  }

  /** Fetch the list now and every 15 s. */
  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async refresh(): Promise<void> {
    const id = ++this.#fetchId;
    try {
      const { blogs } = await api.blogs();
      if (this.#closed || id !== this.#fetchId) return;
      this.#blogs = Array.isArray(blogs) ? blogs : [];
      this.#loadError = null;
      this.#loaded = true;
    } catch (err) {
      if (this.#closed || id !== this.#fetchId) return;
      this.#loadError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Start a blog (you own it). Throws `ApiError` (400 for a bad title) with the server's message. */
  async create(title: string): Promise<Blog> {
    const blog = await api.createBlog(title);
    // A fetch that started before the blog existed must not drop it again.
    this.#fetchId += 1;
    if (!this.#closed) this.#blogs = [blog, ...this.#blogs.filter((b) => b.id !== blog.id)];
    return blog;
  }

  /** A newer state of a listed blog (from its reader): ended, followed, ... */
  patch(blog: Blog): void {
    const at = this.#blogs.findIndex((b) => b.id === blog.id);
    if (at === -1) return;
    const old = this.#blogs[at];
    if (
      old.title === blog.title &&
      old.endedAt === blog.endedAt &&
      old.followers === blog.followers &&
      old.following === blog.following
    ) {
      return;
    }
    this.#blogs = this.#blogs.map((b, i) => (i === at ? blog : b));
  }
}
