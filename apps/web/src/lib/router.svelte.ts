/**
 * Where the app is, from the URL's hash, so a view can be linked to and reloaded:
 * `#/` (or nothing) the chat, `#/blogs` the live blogs, `#/blogs/3` one blog.
 */
export type Route = { view: 'chat' } | { view: 'blogs' } | { view: 'blog'; id: number };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '');
  const blog = /^\/blogs\/(\d+)$/.exec(path);
  if (blog) {
    const id = Number(blog[1]);
    if (Number.isSafeInteger(id) && id > 0) return { view: 'blog', id };
  }
  if (path === '/blogs' || path.startsWith('/blogs/')) return { view: 'blogs' };
  return { view: 'chat' };
}

export function blogHref(id: number): string {
  return `#/blogs/${id}`;
}

export const BLOGS_HREF = '#/blogs';
export const CHAT_HREF = '#/';

/** The current route, following `hashchange` (links, back and forward, `location.hash = ...`). */
export class Router {
  #route = $state.raw<Route>(parseRoute(location.hash));

  constructor() {
    window.addEventListener('hashchange', this.#onHashChange);
  }

  get route(): Route {
    return this.#route;
  }

  go(href: string): void {
    if (location.hash === href) return;
    location.hash = href;
  }

  close(): void {
    window.removeEventListener('hashchange', this.#onHashChange);
  }

  #onHashChange = (): void => {
    const next = parseRoute(location.hash);
    const current = this.#route;
    // Same route, same object: nothing that depends on it runs again.
    if (next.view === current.view && (next.view !== 'blog' || (current.view === 'blog' && next.id === current.id))) return;
    this.#route = next;
  };
}
