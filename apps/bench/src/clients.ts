/**
 * The load generator's connections, one kind per system. A receiver reports each message it gets
 * as text plus the bytes its frame accounts for on the wire; `bytesRead()` is the TCP socket's
 * own count, so wire figures come from the socket, not from an estimate.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { clientFrame } from '@rt/protocol';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import type { Target } from './protocol.js';

/**
 * One delivered message: its text as the client sees it (a WebSocket frame's text, an SSE event's
 * lines), the bytes its frame takes on the wire, and the bytes of its data (the SSE `data:` value;
 * for the others the text itself).
 */
export type OnMessage = (text: string, frameBytes: number, dataBytes: number) => void;

export interface Connection {
  bytesRead(): number;
  close(): void;
}

export interface Publisher {
  publish(payload: string): void;
  close(): void;
}

/** Server-to-client WebSocket frame size: RFC 6455 header (unmasked) plus the payload. */
export function wsFrameBytes(textBytes: number): number {
  return textBytes + (textBytes <= 125 ? 2 : textBytes <= 0xffff ? 4 : 10);
}

export function wsUrl(target: Target, path: string): string {
  return `ws://127.0.0.1:${target.port}${path}`;
}

/**
 * How a socket joins before its messages count: the frame it sends on open, the start of the
 * frame that says it is in, and (optionally) what it is told before that (a board's picture).
 */
export interface WsJoin {
  frame: string;
  ready: string;
  onJoining?: (text: string) => void;
}

/** Joining a chat room: `join`, answered with `joined`. */
const chatJoin = (room: string): WsJoin => ({ frame: clientFrame('join', { room }), ready: '{"event":"joined"' });

/** Opens a `ws` client; resolves once it is open (and, for the app, once it has joined). */
export function openWs(url: string, headers: Record<string, string>, onMessage: OnMessage, join?: WsJoin): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    let ready = !join;
    socket.on('message', (data: Buffer, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (!ready) {
        if (text.startsWith(join!.ready)) {
          ready = true;
          resolve(socket);
        } else {
          join!.onJoining?.(text);
        }
        return;
      }
      onMessage(text, wsFrameBytes(data.length), data.length);
    });
    socket.once('open', () => {
      if (join) socket.send(join.frame);
      else resolve(socket); // the upgrade succeeded: signed in and registered
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

export function wsConnection(socket: WebSocket): Connection {
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  return { bytesRead: () => tcp.bytesRead, close: () => socket.terminate() };
}

/** Splits an event stream into its events: `onBlock` gets each one's text with its blank line ending it. */
export function sseBlocks(res: IncomingMessage, onBlock: (block: string) => void): void {
  res.setEncoding('utf8');
  let pending = '';
  res.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const block = pending.slice(0, end + 2);
      pending = pending.slice(end + 2);
      onBlock(block);
    }
  });
}

/** A minimal incremental SSE reader: one callback per event (blank-line terminated), comments skipped. */
function readSse(res: IncomingMessage, onMessage: OnMessage, onOther: () => void): void {
  sseBlocks(res, (block) => {
    const data = block.indexOf('data: ');
    if (data < 0) {
      onOther();
      return;
    }
    // The data value: from after `data: ` to the end of its line.
    onMessage(block, Buffer.byteLength(block), Buffer.byteLength(block.slice(data + 6, block.indexOf('\n', data))));
  });
}

/**
 * Opens an event stream. With `ready`, it resolves once the first event of that name has come
 * (a board's picture: the reader is then in the log), and drops every event before it.
 */
export function openSse(port: number, path: string, onMessage: OnMessage, onOther: () => void, headers: Record<string, string> = {}, ready?: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream refused: ${res.statusCode}`));
        res.resume();
        return;
      }
      const socket = res.socket;
      const connection = { bytesRead: () => socket.bytesRead, close: () => req.destroy() };
      let waiting = ready !== undefined;
      readSse(
        res,
        (text, bytes, dataBytes) => {
          if (waiting) {
            if (text.startsWith(`event: ${ready}\n`) || text.includes(`\nevent: ${ready}\n`)) {
              waiting = false;
              resolve(connection);
            }
            return;
          }
          if (text.startsWith('event: hello')) return; // the app's greeting, before any step
          onMessage(text, bytes, dataBytes);
        },
        onOther,
      );
      if (!waiting) resolve(connection);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens one receiving connection to the system (for the chat scenario it also publishes: see `participant`). */
export async function openReceiver(target: Target, index: number, role: 'sub' | 'both' | 'idle', onMessage: OnMessage, onOther: () => void): Promise<Connection & Partial<Publisher>> {
  switch (target.system) {
    case 'app-ws': {
      const cookie = target.cookies![index % target.cookies!.length]!;
      // An idle connection is open and signed in (its `hello` has come) but has joined no room.
      const socket = await openWs(wsUrl(target, '/ws'), { cookie }, onMessage, role === 'idle' ? undefined : chatJoin(target.room!));
      return { ...wsConnection(socket), ...appWsPublisher(socket, target.room!, `r${index}`) };
    }
    case 'raw-ws': {
      const socket = await openWs(wsUrl(target, `/?role=${role}`), {}, onMessage);
      return { ...wsConnection(socket), publish: (payload) => socket.send(payload) };
    }
    case 'app-sse':
      return openSse(target.port, `/api/blogs/${target.blogId}/stream`, onMessage, onOther);
    case 'raw-sse': {
      const connection = await openSse(target.port, '/events', onMessage, onOther);
      return { ...connection, ...httpPublisher(target.port, '/publish', {}, (p) => p) };
    }
    case 'socketio': {
      const socket = await openSocketIo(target.port, role, onMessage);
      return { ...socketIoConnection(socket), publish: (payload) => socket.emit('publish', payload) };
    }
    case 'floor': {
      const socket = await openFloor(target.port, role, onMessage);
      return { bytesRead: () => socket.bytesRead, close: () => socket.destroy(), publish: (payload) => socket.write(payload + '\n') };
    }
  }
}

/** Opens the fan-out publisher for the system. `onError` counts publishes the server refused. */
export async function openPublisher(target: Target, index: number, onError: () => void): Promise<Publisher> {
  switch (target.system) {
    case 'app-ws': {
      // The app only takes messages from a member that has joined: the publisher joins too and
      // ignores its own copies (the app echoes a message to its sender as well as acking it).
      const cookie = target.cookies![index % target.cookies!.length]!;
      const socket = await openWs(wsUrl(target, '/ws'), { cookie }, (text) => {
        if (text.startsWith('{"event":"error"')) onError();
      }, chatJoin(target.room!));
      return { ...appWsPublisher(socket, target.room!, `p${index}`), close: () => socket.terminate() };
    }
    case 'raw-ws': {
      const socket = await openWs(wsUrl(target, '/?role=pub'), {}, () => {});
      return { publish: (payload) => socket.send(payload), close: () => socket.terminate() };
    }
    case 'app-sse':
      return httpPublisher(target.port, `/api/blogs/${target.blogId}/updates`, { cookie: target.ownerCookie! }, (p) => JSON.stringify({ body: p }), onError, 201);
    case 'raw-sse':
      return httpPublisher(target.port, '/publish', {}, (p) => p, onError, 204);
    case 'socketio': {
      const socket = await openSocketIo(target.port, 'pub', () => {});
      return { publish: (payload) => socket.emit('publish', payload), close: () => socket.disconnect() };
    }
    case 'floor': {
      const socket = await openFloor(target.port, 'pub', () => {});
      return { publish: (payload) => socket.write(payload + '\n'), close: () => socket.destroy() };
    }
  }
}

function appWsPublisher(socket: WebSocket, room: string, prefix: string): Publisher {
  let n = 0;
  return {
    publish: (text) => socket.send(`{"event":"message","data":{"room":${JSON.stringify(room)},"clientId":"${prefix}-${++n}","text":${JSON.stringify(text)}}}`),
    close: () => socket.terminate(),
  };
}

/** Publishes by HTTP POST over a few keep-alive connections (a browser would use one per origin and more in HTTP/2). */
export function httpPublisher(port: number, path: string, headers: Record<string, string>, body: (payload: string) => string, onError: () => void = () => {}, okStatus = 204): Publisher {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  return {
    publish: (payload) => {
      const data = body(payload);
      const req = request(
        { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
        (res) => {
          if (res.statusCode !== okStatus) onError();
          res.resume();
        },
      );
      req.on('error', onError);
      req.end(data);
    },
    close: () => agent.destroy(),
  };
}

export function openSocketIo(port: number, role: string, onMessage: OnMessage): Promise<IoSocket> {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], query: { role }, forceNew: true, reconnection: false });
    socket.on('message', (payload: string) => {
      // Socket.IO's text packet for emit('message', payload): `42["message","..."]`.
      const dataBytes = Buffer.byteLength(payload);
      onMessage(payload, wsFrameBytes(dataBytes + 16), dataBytes);
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

export function socketIoConnection(socket: IoSocket): Connection {
  const transport = (socket.io as unknown as { engine: { transport: { ws: { _socket: Socket } } } }).engine.transport;
  const tcp = transport.ws._socket;
  return { bytesRead: () => tcp.bytesRead, close: () => socket.disconnect() };
}

export function openFloor(port: number, role: string, onMessage: OnMessage): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => {
      socket.write(role + '\n');
      resolve(socket);
    });
    socket.setEncoding('latin1');
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let end: number;
      while ((end = pending.indexOf('\n')) >= 0) {
        onMessage(pending.slice(0, end), end + 1, end);
        pending = pending.slice(end + 1);
      }
    });
    socket.once('error', reject);
  });
}
