// A hand-written stand-in for the browser's WebSocket and the server behind it, for the unit
// specs of the chat socket and its features (node has no WebSocket, and the specs need to decide
// when a socket opens, what the server says and when it goes).
import type { WebSocketLike } from '../chat/socket.svelte';

export interface SentFrame {
  event: string;
  data: Record<string, unknown>;
  ref?: string;
}

type Listener = (event: never) => void;

export class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  readonly url: string;
  /** Every frame the client sent, parsed. */
  readonly sent: SentFrame[] = [];
  /** The code the client closed it with, if it did. */
  closedWith: number | undefined;
  readonly #listeners = new Map<string, Listener[]>();

  constructor(url: string) {
    this.url = url;
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as SentFrame);
  }

  /** The client gives up on it. Like a dead link, no `close` event follows by itself. */
  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 2;
  }

  /** The frames sent with this event, in order. */
  frames(event: string): SentFrame[] {
    return this.sent.filter((frame) => frame.event === event);
  }

  // --- The server's side -------------------------------------------------------------------

  open(): void {
    this.readyState = 1;
    this.#fire('open', {});
  }

  /** One `{event, data}` frame from the server. */
  receive(event: string, data: Record<string, unknown>): void {
    this.receiveRaw(JSON.stringify({ event, data }));
  }

  receiveRaw(text: string): void {
    this.#fire('message', { data: text });
  }

  /** A stored message in the compact wire format; the room's id must have come in a `joining`. */
  message(roomId: number, seq: number, author: { id: number; username: string }, text: string, t = Date.now()): void {
    this.receiveRaw(JSON.stringify([roomId, seq, author.id, author.username, t, text]));
  }

  /** The server (or the network) closes it. */
  drop(code: number): void {
    this.readyState = 3;
    this.#fire('close', { code });
  }

  #fire(type: string, event: object): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (event: object) => void)(event);
  }
}

/** Hands out the sockets a client opens, newest last. */
export class FakeServer {
  readonly sockets: FakeWebSocket[] = [];

  readonly createSocket = (url: string): FakeWebSocket => {
    const socket = new FakeWebSocket(url);
    this.sockets.push(socket);
    return socket;
  };

  get current(): FakeWebSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error('no socket opened yet');
    return socket;
  }

  /** Open the newest socket and answer its joins: `joining`, the given messages, then `joined`. */
  openAndJoin(rooms: Record<string, { id: number; lastSeq?: number; lastRev?: number }>): FakeWebSocket {
    const socket = this.current;
    socket.open();
    for (const join of socket.frames('join')) joinRoom(socket, String(join.data.room), rooms[String(join.data.room)] ?? { id: 1 });
    return socket;
  }
}

/** Answer a `join`: `joining` (the room's id) and `joined` (its positions). */
export function joinRoom(socket: FakeWebSocket, room: string, info: { id: number; lastSeq?: number; lastRev?: number }, history: () => void = () => {}): void {
  socket.receive('joining', { room, id: info.id });
  history();
  socket.receive('joined', { room, lastSeq: info.lastSeq ?? 0, lastRev: info.lastRev ?? 0 });
}
