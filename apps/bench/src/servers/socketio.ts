/**
 * Baseline: Socket.IO 4 with rooms, WebSocket transport only (no long-polling upgrade dance).
 * Receivers join the room on connect; a publisher's `publish` goes to the room with
 * `socket.to(room).emit`, which builds the packet once for all of them.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listen, roleOf } from './listen.js';

const server = createServer();
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });

io.on('connection', (socket) => {
  const role = roleOf(socket.request.url);
  if (role === 'sub' || role === 'both') void socket.join('bench');
  socket.on('publish', (payload: string) => socket.to('bench').emit('message', payload));
});

listen(server);
