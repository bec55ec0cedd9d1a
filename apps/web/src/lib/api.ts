// Typed REST helpers for the API described in docs/protocol.md.
// Same origin only: the session lives in an HttpOnly cookie the browser sends for us.
// The shapes that travel on the streams too (blog updates, probes, polls) are @rt/protocol's.

import type { BlogUpdateData, ClockPing, ConnectionMetrics, PollAnswer, ProbeRequest, ProbeResult } from '@rt/protocol';

/** A blog update, as in `GET /api/blogs/:id` and the `update-edited` event. */
export type BlogUpdate = BlogUpdateData;

export interface User {
  id: number;
  username: string;
}

/** A stored chat message, from the WebSocket `message` frame (read by wire.ts) or a history page. */
export interface ChatMessage {
  room: string;
  /** The room's sequence number: 1, 2, 3, ... with no gaps. */
  seq: number;
  /** The message's global id (history pages only). */
  id?: number;
  author: User;
  text: string;
  /** When the message was stored (ISO-8601). */
  createdAt: string;
  /** When it was last edited (ISO-8601), or null. */
  editedAt: string | null;
  /** A deleted message keeps its `seq` (the sequence stays gapless) with `text: ""`. */
  deleted: boolean;
  /** When it was stored, epoch ms on the server's clock (frames only: `createdAt` as a number). */
  t?: number;
  /** The author's own id for the message (history pages only: frames carry it in the sender's ack). */
  clientId?: string | null;
}

/** A room as listed by `GET /api/rooms`, with the counts as seen by the signed-in user. */
export interface Room {
  /** Rooms are addressed by name everywhere. */
  name: string;
  createdAt: string;
  lastSeq: number;
  members: number;
  /** Distinct users with at least one socket joined to the room now. */
  online: number;
  /** Whether the user has ever joined it (membership keeps the read position). */
  member: boolean;
  lastReadSeq: number;
  /** Messages by others after `lastReadSeq` that are not deleted (0 when not a member). */
  unread: number;
}

export interface HistoryPage {
  /** Oldest first. */
  messages: ChatMessage[];
  hasMore: boolean;
}

/** The answer of me, login, register and refresh. */
export interface SessionAnswer {
  user: User;
  /** When the session token expires: epoch ms on the server's clock (null if the server did not say). */
  expiresAt: number | null;
  /**
   * The server's clock minus ours, estimated from the answer's `Date` header (1 s resolution,
   * plenty for a lifetime of a minute or more); 0 when the header is missing.
   */
  clockSkewMs: number;
}

export interface AppNotification {
  /**
   * The notification's position in the user's `notifications` log: ids only increase, but are not
   * contiguous (a `notification-read` event takes a position too).
   */
  id: number;
  kind: 'mention' | 'blog-update' | 'system' | (string & {});
  title: string;
  body: string;
  /** ISO-8601. */
  createdAt: string;
  /** Server clock (epoch ms, fractional) when the event was built for sending. */
  sentAt: number;
  read: boolean;
  /** What it is about, to open: the chat message that mentioned you (null for others; absent from older servers). */
  link?: { room: string; seq: number } | null;
}

export interface NotificationPage {
  /** Newest first. */
  items: AppNotification[];
  unread: number;
  lastId: number | null;
}

export interface Blog {
  id: number;
  title: string;
  owner: User;
  createdAt: string;
  /** ISO-8601 once the owner has ended it: nothing is posted after that. */
  endedAt: string | null;
  followers: number;
  /** Whether the signed-in user follows it (false when signed out). */
  following: boolean;
}

/** `GET /api/blogs/:id`: the blog, its latest 50 updates (newest first) and its log's position. */
export interface BlogSnapshot {
  blog: Blog;
  updates: BlogUpdate[];
  lastEventId: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Every REST error, built from the server's `{ statusCode, error, message }` body. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function toApiError(res: Response): Promise<ApiError> {
  let message = res.statusText || `Request failed (${res.status})`;
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object' && 'message' in body) {
      const m = (body).message;
      // Validation errors (400) carry an array of messages.
      if (Array.isArray(m)) message = m.map(String).join('; ');
      else if (typeof m === 'string' && m) message = m;
    }
  } catch {
    // Not JSON (a proxy's error page, say): keep the status text.
  }
  return new ApiError(res.status, message);
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    // fetch rejects only when no HTTP answer came back at all.
    throw new ApiError(0, 'Cannot reach the server');
  }

  if (!res.ok) throw await toApiError(res);
  return res;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** An auth request whose answer carries the session's expiry, read against the server's clock. */
async function sessionRequest(method: string, path: string, body?: unknown): Promise<SessionAnswer> {
  const res = await send(method, path, body);
  const data = (await res.json()) as { user: User; expiresAt?: unknown };
  const serverDate = Date.parse(res.headers.get('Date') ?? '');
  return {
    user: data.user,
    expiresAt: typeof data.expiresAt === 'number' ? data.expiresAt : null,
    clockSkewMs: Number.isNaN(serverDate) ? 0 : serverDate - Date.now(),
  };
}

export const api = {
  me: () => sessionRequest('GET', '/api/auth/me'),
  login: (credentials: Credentials) => sessionRequest('POST', '/api/auth/login', credentials),
  register: (credentials: Credentials) => sessionRequest('POST', '/api/auth/register', credentials),
  /** Sliding renewal: 401 once the session has expired. */
  refresh: () => sessionRequest('POST', '/api/auth/refresh'),
  logout: () => request<void>('POST', '/api/auth/logout'),

  rooms: () => request<{ rooms: Room[] }>('GET', '/api/rooms'),
  /** 400 for an invalid name, 409 when the room exists. */
  createRoom: (name: string) => request<{ room: Room }>('POST', '/api/rooms', { name }),
  /** Up to `limit` messages with `seq < before`, oldest first. */
  roomMessages: (room: string, before: number, limit = 50) =>
    request<HistoryPage>(
      'GET',
      `/api/rooms/${encodeURIComponent(room)}/messages?before=${encodeURIComponent(before)}&limit=${encodeURIComponent(limit)}`,
    ),

  notifications: (limit = 20) =>
    request<NotificationPage>('GET', `/api/notifications?limit=${encodeURIComponent(limit)}`),
  readNotification: (id: number) => request<void>('POST', `/api/notifications/${encodeURIComponent(id)}/read`),
  readAllNotifications: () => request<void>('POST', '/api/notifications/read-all'),

  /** `query` is the ready-made query string (`topics=...&lastEventId=...`). */
  pollEvents: (query: string) => request<PollAnswer>('GET', `/api/events/poll?${query}`),

  blogs: () => request<{ blogs: Blog[] }>('GET', '/api/blogs'),
  /** 400 for a title outside 1 to 200 characters. */
  createBlog: (title: string) => request<Blog>('POST', '/api/blogs', { title }),
  /** 404 when there is no such blog. */
  blog: (id: number) => request<BlogSnapshot>('GET', `/api/blogs/${encodeURIComponent(id)}`),
  /** Owner only: 403 for someone else's blog, 409 once it has ended, 413 for a body over 10,000 characters. */
  postBlogUpdate: (id: number, body: string) =>
    request<BlogUpdate>('POST', `/api/blogs/${encodeURIComponent(id)}/updates`, { body }),
  editBlogUpdate: (id: number, updateId: number, body: string) =>
    request<BlogUpdate>('PATCH', `/api/blogs/${encodeURIComponent(id)}/updates/${encodeURIComponent(updateId)}`, { body }),
  deleteBlogUpdate: (id: number, updateId: number) =>
    request<void>('DELETE', `/api/blogs/${encodeURIComponent(id)}/updates/${encodeURIComponent(updateId)}`),
  endBlog: (id: number) => request<Blog>('POST', `/api/blogs/${encodeURIComponent(id)}/end`),
  followBlog: (id: number) => request<void>('POST', `/api/blogs/${encodeURIComponent(id)}/follow`),
  unfollowBlog: (id: number) => request<void>('DELETE', `/api/blogs/${encodeURIComponent(id)}/follow`),

  /** One of your open connections, by the id from its `hello`; 404 once it is gone. */
  connectionMetrics: (id: string) =>
    request<ConnectionMetrics>('GET', `/api/metrics/connections/${encodeURIComponent(id)}`),
  /** Clock probe over SSE: the server answers with `event: pong` on that stream (204 here). */
  pingStream: (id: string, ping: ClockPing) =>
    request<void>('POST', `/api/metrics/connections/${encodeURIComponent(id)}/ping`, ping),
  /** Head-to-head probe; answers when it is over. 409 while another of yours runs. */
  probe: (body: ProbeRequest) => request<ProbeResult>('POST', '/api/probe', body),
  /** Cuts every WebSocket and event stream of yours, as a network failure would. */
  netsimDrop: () => request<{ ws: number; sse: number }>('POST', '/api/netsim/drop'),
  /** Every delivery to your connections waits `delayMs` plus 0 to `jitterMs` (0 and 0: off). */
  netsimImpair: (delayMs: number, jitterMs: number) =>
    request<void>('POST', '/api/netsim/impair', { delayMs, jitterMs }),
  /** Holds every delivery to your connections for `seconds` (1 to 30), then sends them in order. */
  netsimPause: (seconds: number) => request<void>('POST', '/api/netsim/pause', { seconds }),
};
