/**
 * Baseline: Socket.IO 4 with rooms, WebSocket transport only (no long-polling upgrade dance).
 * Receivers join the room on connect; a publisher's `publish` goes to the room with
 * `socket.to(room).emit`, which builds the packet once for all of them (and is acked when the
 * publisher asks for an ack). A `board-stroke` (the whiteboard scenario's segment) goes to the
 * room the same way, relayed as it came: no numbering, no storing.
 *
 * With SOCKETIO_RECOVERY=1 (the flaky-network scenarios), connection-state recovery is on, as
 * Socket.IO documents it: a client that lost its connection and comes back within
 * `maxDisconnectionDuration` gets its id, its rooms and the packets it missed.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listen, roleOf } from './listen.js';

const server = createServer();
const recovery = process.env.SOCKETIO_RECOVERY === '1';
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true } } : {}),
});

io.on('connection', (socket) => {
  const role = roleOf(socket.request.url);
  // A recovered socket is back in its rooms already.
  if ((role === 'sub' || role === 'both') && !socket.recovered) void socket.join('bench');
  socket.on('publish', (payload: string, ack?: () => void) => {
    socket.to('bench').emit('message', payload);
    if (typeof ack === 'function') ack();
  });
  // The whiteboard's baseline: a drawer's segment relayed to the room as it came, stored nowhere.
  socket.on('board-stroke', (segment: unknown) => {
    socket.to('bench').emit('board-stroke', segment);
  });
});

listen(server);
