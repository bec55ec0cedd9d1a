/**
 * Baseline: a raw `ws` broadcast server, written as ws's own README does it. Whatever a
 * publisher sends goes to every other receiving socket with `client.send(data)`.
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { listen, roleOf } from './listen.js';

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const receivers = new Set<WebSocket>();

wss.on('connection', (socket, req) => {
  const role = roleOf(req.url);
  if (role === 'sub' || role === 'both') receivers.add(socket);
  socket.on('close', () => receivers.delete(socket));
  socket.on('message', (data, isBinary) => {
    for (const client of receivers) {
      if (client !== socket && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});

listen(server);
