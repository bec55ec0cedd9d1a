// Typed REST helpers for the API described in docs/protocol.md.
// Same origin only: the session lives in an HttpOnly cookie the browser sends for us.

export interface User {
  id: number;
  username: string;
}

/** A stored chat message, as carried by the WebSocket `message` frame. */
export interface ChatMessage {
  room: string;
  /** The room's sequence number: 1, 2, 3, ... with no gaps. */
  seq: number;
  /** The message's global id. */
  id: number;
  author: User;
  text: string;
  /** When the message was stored (ISO-8601). */
  createdAt: string;
  /** Server clock (epoch ms, fractional) when the frame was built for sending. */
  sentAt: number;
  clientId?: string | null;
}

export interface AppNotification {
  /** Sequence number in this user's stream: 1, 2, 3, ... with no gaps. */
  id: number;
  kind: 'mention' | 'system' | (string & {});
  title: string;
  body: string;
  /** ISO-8601. */
  createdAt: string;
  /** Server clock (epoch ms, fractional) when the event was built for sending. */
  sentAt: number;
  read: boolean;
}

export interface NotificationPage {
  /** Newest first. */
  items: AppNotification[];
  unread: number;
  lastId: number | null;
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
      const m = (body as { message: unknown }).message;
      // Validation errors (400) carry an array of messages.
      if (Array.isArray(m)) message = m.map(String).join('; ');
      else if (typeof m === 'string' && m) message = m;
    }
  } catch {
    // Not JSON (a proxy's error page, say): keep the status text.
  }
  return new ApiError(res.status, message);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
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
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  me: () => request<{ user: User }>('GET', '/api/auth/me'),
  login: (credentials: Credentials) => request<{ user: User }>('POST', '/api/auth/login', credentials),
  register: (credentials: Credentials) =>
    request<{ user: User }>('POST', '/api/auth/register', credentials),
  logout: () => request<void>('POST', '/api/auth/logout'),

  notifications: (limit = 20) =>
    request<NotificationPage>('GET', `/api/notifications?limit=${encodeURIComponent(limit)}`),
  readAllNotifications: () => request<void>('POST', '/api/notifications/read-all'),
};
