import { clientFrame, DEFAULT_EVENT, NOTIFICATIONS_TOPIC, type ClientEvent, type MessageTuple } from '@rt/protocol';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

export const PASSWORD = 'password-123';

export interface SignedIn {
  cookie: string;
  user: { id: number; username: string };
}

/** `session=...` from a response's Set-Cookie. */
export function sessionCookie(res: Response): string {
  const header = res.headers.getSetCookie().find((c) => c.startsWith('session='));
  if (!header) throw new Error(`no session cookie in response ${res.status}`);
  return header.split(';')[0]!;
}

export async function signUp(baseUrl: string, username: string, password = PASSWORD): Promise<SignedIn> {
  const res = await fetch(`${baseUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { user: SignedIn['user'] };
  return { cookie: sessionCookie(res), user: body.user };
}

export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/**
 * Resolves when `check` returns (or resolves to) a value other than undefined; rejects after `ms`.
 * An async check (a health probe over HTTP) is awaited before the next poll.
 */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `from`, `from + 1`, ..., `to`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/**
 * A `message` frame (`[roomId, seq, authorId, author, t, text, editedAt?]`, docs/protocol.md) as
 * the object the tests read: the room by name (learned from `joining`), the author as
 * `{id, username}`, `deleted` when the text is "".
 */
export function decodeMessageFrame(frame: unknown[], roomNames: ReadonlyMap<number, string>): Frame {
  const [roomId, seq, authorId, username, t, text, editedAt] = frame as MessageTuple;
  return {
    event: 'message',
    data: {
      room: roomNames.get(roomId) ?? `#${roomId}`,
      seq,
      author: { id: authorId, username },
      text,
      t,
      editedAt: editedAt ?? null,
      deleted: text === '',
    },
  };
}

/** A real `ws` client that records every frame it receives (`raw`: their text as it came). */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  /** Room ids from `joining`, to read `message` frames by room name. */
  readonly roomNames = new Map<number, string>();
  closeCode?: number;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const text = String(raw);
      this.raw.push(text);
      const parsed = JSON.parse(text) as Frame | unknown[];
      if (Array.isArray(parsed)) {
        // A board entry starts with its kind letter; a chat message with its room id.
        if (typeof parsed[0] === 'string') this.frames.push({ event: 'board-entry', data: { entry: parsed } });
        else this.frames.push(decodeMessageFrame(parsed, this.roomNames));
        return;
      }
      if (parsed.event === 'joining') this.roomNames.set(parsed.data.id as number, parsed.data.room as string);
      this.frames.push(parsed);
    });
    socket.on('close', (code) => (this.closeCode = code));
  }

  /** Opens an authenticated socket; rejects with the HTTP status if the upgrade is refused. */
  static connect(url: string, cookie?: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
      socket.once('open', () => resolve(new WsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Any frame, well-formed or not (the tests send hostile ones too); see clientFrame for the typed ones. */
  send(event: ClientEvent | (string & {}), data: unknown, extra: Record<string, unknown> = {}): void {
    this.socket.send(JSON.stringify({ event, data, ...extra }));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  of(event: string): Frame['data'][] {
    return this.frames.filter((f) => f.event === event).map((f) => f.data);
  }

  /** The first frame (after `from`) of that event matching `match`. */
  waitFor(event: string, match: (data: Frame['data']) => boolean = () => true, ms = 5000, from = 0): Promise<Frame['data']> {
    return eventually(() => this.frames.slice(from).find((f) => f.event === event && match(f.data))?.data, ms, `ws "${event}" frame`);
  }

  async join(room: string, afterSeq?: number, afterRev?: number): Promise<Frame['data']> {
    const from = this.frames.length;
    this.socket.send(clientFrame('join', { room, ...(afterSeq === undefined ? {} : { afterSeq }), ...(afterRev === undefined ? {} : { afterRev }) }));
    return this.waitFor('joined', (d) => d.room === room, 5000, from);
  }

  waitClosed(ms = 5000): Promise<number> {
    return eventually(() => this.closeCode, ms, 'socket close');
  }

  close(): void {
    this.socket.close();
  }
}

export interface SseEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** The main event of a topic, which its single-topic stream sends unnamed (SSE's `message`). */
function defaultEvent(topic: string | null): string {
  if (topic === NOTIFICATIONS_TOPIC) return DEFAULT_EVENT.user;
  return topic?.startsWith('blog:') ? DEFAULT_EVENT.blog : 'message';
}

/** The topic of a single-topic stream's URL (`/api/blogs/3/stream`: `blog:3`); null for `/api/events`. */
function streamTopic(url: string): string | null {
  const path = new URL(url, 'http://x').pathname;
  if (path.startsWith('/api/notifications/')) return 'notifications';
  const blog = /^\/api\/blogs\/(\d+)\//.exec(path);
  return blog ? `blog:${blog[1]}` : null;
}

/**
 * An event's data as the tests read it: the compact `notification` and `update` arrays
 * (docs/protocol.md, "Events") as objects, and `topic` on every event (a single-topic stream
 * leaves it out of the data: it is the stream's own).
 */
export function decodeStreamData(type: string, data: unknown, id: string, topic: string | null): Record<string, unknown> {
  // A board entry is the same tuple as over the WebSocket (its room id names the topic).
  if (type === 'board') return { entry: data };
  if (Array.isArray(data)) {
    const fields = topic === null ? data : [topic, ...data];
    const own = String(fields[0]);
    const seq = topic === null ? Number(new Map(id.split(',').map((p) => p.split('=') as [string, string])).get(own)) : Number(id);
    if (type === 'notification') {
      const [, kind, t, title, body, room, roomSeq] = fields as [string, string, number, string, string, string?, number?];
      const link = room === undefined ? null : { room, seq: roomSeq };
      return { topic: own, id: seq, kind, t, title, body, createdAt: new Date(t).toISOString(), read: false, link };
    }
    const [, updateId, t, body] = fields as [string, number, number, string];
    return { topic: own, id: updateId, t, body, createdAt: new Date(t).toISOString(), editedAt: null };
  }
  const object = data as Record<string, unknown>;
  return topic === null || 'topic' in object ? object : { topic, ...object };
}

/** The real `eventsource` client with the session cookie; records every event (decoded, see decodeStreamData). */

export class SseClient {
  readonly events: SseEvent[] = [];
  opens = 0;
  readonly es: EventSource;

  /** Each event's data as it came, before decoding. */
  readonly raw: string[] = [];

  constructor(url: string, cookie?: string, eventTypes: string[] = ['notification']) {
    this.es = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...(cookie ? { cookie } : {}) } }),
    });
    const topic = streamTopic(url);
    const record = (type: string, e: { data: string; lastEventId: string }) => {
      this.raw.push(e.data);
      this.events.push({ id: e.lastEventId, type, data: decodeStreamData(type, JSON.parse(e.data), e.lastEventId, topic) });
    };
    this.es.addEventListener('open', () => this.opens++);
    for (const type of eventTypes) this.es.addEventListener(type, (e) => record(type, e));
    // A single-topic stream sends its topic's main event unnamed (docs/protocol.md): recorded
    // under that name, when the caller listens for it.
    this.es.addEventListener('message', (e) => {
      const type = defaultEvent(topic);
      if (eventTypes.includes(type)) record(type, e);
    });
  }

  ids(): number[] {
    return this.events.map((e) => Number(e.id));
  }

  waitForOpen(count = 1, ms = 5000): Promise<true> {
    return eventually(() => (this.opens >= count ? true : undefined), ms, `SSE open #${count}`);
  }

  waitForCount(n: number, ms = 5000): Promise<SseEvent[]> {
    return eventually(() => (this.events.length >= n ? this.events : undefined), ms, `${n} SSE events (have ${this.events.length})`);
  }

  close(): void {
    this.es.close();
  }
}

/** Reads a raw HTTP response body as text chunks until `until` matches or time runs out. */
export async function readStream(res: Response, until: (text: string) => boolean, ms = 5000): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  try {
    while (!until(text)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream did not match in ${ms} ms; got ${JSON.stringify(text)}`);
      const chunk = await Promise.race([reader.read(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`stream did not match in ${ms} ms; got ${JSON.stringify(text)}`)), left))]);
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}
