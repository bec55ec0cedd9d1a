import { ROOM_NAME_PATTERN } from '@rt/protocol';

/**
 * Where the app is, from the URL's hash, so a view can be linked to, reloaded and gone back to:
 * `#/` (or nothing) the chat in its default room, `#/rooms/design` a room, `#/rooms/design/42`
 * message 42 of it (shown and highlighted: where a mention notification leads), `#/blogs` the
 * live blogs, `#/blogs/3` one blog.
 */
export type Route =
  | { view: 'chat'; room: string | null; seq: number | null }
  | { view: 'blogs' }
  | { view: 'blog'; id: number };

function positiveInt(text: string | undefined): number | null {
  const n = Number(text);
  return text !== undefined && Number.isSafeInteger(n) && n > 0 ? n : null;
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '');
  const blog = /^\/blogs\/(\d+)$/.exec(path);
  if (blog) {
    const id = positiveInt(blog[1]);
    if (id !== null) return { view: 'blog', id };
  }
  if (path === '/blogs' || path.startsWith('/blogs/')) return { view: 'blogs' };
  const room = /^\/rooms\/([^/]+)(?:\/(\d+))?$/.exec(path);
  if (room) {
    let name: string;
    try {
      name = decodeURIComponent(room[1]);
    } catch {
      name = '';
    }
    if (ROOM_NAME_PATTERN.test(name)) return { view: 'chat', room: name, seq: positiveInt(room[2]) };
  }
  return { view: 'chat', room: null, seq: null };
}

export function sameRoute(a: Route, b: Route): boolean {
  if (a.view === 'chat' && b.view === 'chat') return a.room === b.room && a.seq === b.seq;
  if (a.view === 'blog' && b.view === 'blog') return a.id === b.id;
  return a.view === b.view;
}

export function blogHref(id: number): string {
  return `#/blogs/${id}`;
}

/** A room, or one of its messages. */
export function roomHref(room: string, seq?: number | null): string {
  return `#/rooms/${encodeURIComponent(room)}${seq ? `/${seq}` : ''}`;
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

  /** Navigate (a new history entry, so Back returns). */
  go(href: string): void {
    if (location.hash === href) return;
    location.hash = href;
  }

  /** Say where we are without a new history entry (the room a plain `#/` opened, say). */
  replace(href: string): void {
    if (location.hash === href) return;
    history.replaceState(history.state, '', href);
    const next = parseRoute(href);
    if (!sameRoute(next, this.#route)) this.#route = next;
  }

  close(): void {
    window.removeEventListener('hashchange', this.#onHashChange);
  }

  #onHashChange = (): void => {
    const next = parseRoute(location.hash);
    // Same route, same object: nothing that depends on it runs again.
    if (sameRoute(next, this.#route)) return;
    this.#route = next;
  };
}
