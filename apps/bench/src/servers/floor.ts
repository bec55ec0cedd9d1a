/**
 * The floor: a bare `net` server with no protocol at all. Each line a publisher writes is one
 * message; the server prebuilds it as one Buffer and writes it to every receiver, one write per
 * receiver, unbatched. Nothing delivers a message to N sockets for less.
 */
import { createServer, type Socket } from 'node:net';
import { listen } from './listen.js';

const receivers = new Set<Socket>();

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let role: string | undefined;
  let pending = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      if (role === undefined) {
        role = line.trim(); // the first line says what this connection is: sub, pub, both or idle
        if (role === 'sub' || role === 'both') receivers.add(socket);
        continue;
      }
      const frame = Buffer.from(line, 'latin1');
      for (const receiver of receivers) if (receiver !== socket) receiver.write(frame);
    }
  });
  socket.on('close', () => receivers.delete(socket));
  socket.on('error', () => receivers.delete(socket));
});

listen(server);
