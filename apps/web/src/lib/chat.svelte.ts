import type { PublicUser } from '@rt/protocol';
import { RoomBoards, type BoardOptions } from './chat/board.svelte';
import { HistoryPager, type FetchPage } from './chat/history.svelte';
import { Outbox } from './chat/outbox.svelte';
import { RoomPresence } from './chat/presence.svelte';
import { ReadReceipts } from './chat/read.svelte';
import { ChatSocket, type ChatSocketOptions } from './chat/socket.svelte';
import { RoomTimeline } from './chat/timeline.svelte';

export type { ChatError, ChatObserver, ChatSignal, ChatStatus } from './chat/socket.svelte';
export type { BoardCursor, BoardStatus, BoardStyle, DrawableStroke } from './chat/board.svelte';
export type { HistoryState } from './chat/history.svelte';
export type { OutboxHoldReason, OutboxState, PendingMessage } from './chat/outbox.svelte';

export interface ChatOptions extends ChatSocketOptions {
  /** Loads a page of older messages. Defaults to `GET /api/rooms/:room/messages`. */
  fetchPage?: FetchPage;
  /** Who is signed in: the board recognises our own strokes coming back by it. */
  me?: PublicUser;
  /** The board's animation frames (specs drive them by hand). */
  frame?: BoardOptions['frame'];
}

/**
 * The chat as the components use it: one `ChatSocket` (lib/chat/socket.svelte.ts) with the chat
 * features plugged into it, each in its own class under lib/chat/:
 * - `timeline`: rooms joined, messages by `seq`, edits and deletes;
 * - `outbox`: messages written and not shown back yet, sent in order, re-sent after a reconnect;
 * - `history`: older pages over REST;
 * - `presence`: who is in a room, who is typing;
 * - `reads`: the throttled `read` position;
 * - `board`: each open room's whiteboard, our strokes until they are stored, the others' pointers.
 *
 * This class only builds them in the right order; components take the feature they show
 * (`chat.outbox.send(...)`, `chat.timeline.messages(room)`). A new feature over the same socket is
 * a class of its own that registers its frame handlers on `socket` (see `ChatSocket.on`), built here.
 */
export class ChatConnection {
  readonly socket: ChatSocket;
  readonly timeline: RoomTimeline;
  readonly outbox: Outbox;
  readonly history: HistoryPager;
  readonly presence: RoomPresence;
  readonly reads: ReadReceipts;
  readonly board: RoomBoards;

  constructor(options: ChatOptions = {}) {
    this.socket = new ChatSocket(options);
    // The timeline first: its `joined` handler marks the room ready before the others flush to it.
    this.timeline = new RoomTimeline(this.socket);
    this.outbox = new Outbox(this.socket, this.timeline, options.random);
    this.history = new HistoryPager(this.socket, this.timeline, options.fetchPage);
    this.presence = new RoomPresence(this.socket, this.timeline);
    this.reads = new ReadReceipts(this.socket, this.timeline);
    this.board = new RoomBoards(this.socket, options.me ?? null, { frame: options.frame });
    this.socket.start();
  }

  /** Stop receiving a room: no more messages, presence or typing from it. What is held stays. */
  leave(room: string): void {
    if (this.timeline.leave(room)) this.presence.forget(room);
  }

  /** Stop for good (sign out). */
  close(): void {
    this.socket.close();
  }
}
