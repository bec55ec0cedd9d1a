// Builds the chat (ChatConnection) over a fake server, for the chat features' specs.
import { afterEach, beforeEach, vi } from 'vitest';
import type { HistoryPage } from '../api';
import { ChatConnection } from '../chat.svelte';
import { FakeServer, joinRoom, type FakeWebSocket } from './fake-websocket';

export const alice = { id: 1, username: 'alice' };
export const bob = { id: 2, username: 'bob' };

export interface ChatUnderTest {
  chat: ChatConnection;
  server: FakeServer;
  /** The pages `loadOlder` asked for, to answer by hand. */
  pages: { room: string; before: number; resolve: (page: HistoryPage) => void; reject: (err: Error) => void }[];
  /** Open the newest socket and answer the join of `room` (id 1) with these messages first. */
  online(room?: string, history?: (socket: FakeWebSocket) => void, info?: { lastSeq?: number; lastRev?: number }): FakeWebSocket;
}

export function chatUnderTest(): ChatUnderTest {
  const server = new FakeServer();
  const pages: ChatUnderTest['pages'] = [];
  const chat = new ChatConnection({
    url: 'ws://test/ws',
    createSocket: server.createSocket,
    random: () => 0.5,
    fetchPage: (room, before) => new Promise((resolve, reject) => pages.push({ room, before, resolve, reject })),
  });
  return {
    chat,
    server,
    pages,
    online(room = 'general', history, info = {}) {
      const socket = server.current;
      socket.open();
      joinRoom(socket, room, { id: 1, ...info }, () => history?.(socket));
      return socket;
    },
  };
}

/**
 * For a spec file: a fresh chat on fake timers before each test (joined to `room` unless null),
 * closed after it. Returns the getter of the current one.
 */
export function useChatUnderTest(room: string | null = 'general'): () => ChatUnderTest {
  let current: ChatUnderTest | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    current = chatUnderTest();
    if (room !== null) current.chat.timeline.join(room);
  });
  afterEach(() => {
    current?.chat.close();
    vi.useRealTimers();
  });
  return () => current!;
}
