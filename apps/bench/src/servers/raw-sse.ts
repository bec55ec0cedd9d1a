/**
 * Baseline: a raw `node:http` SSE server. `GET /events` holds a stream; `POST /publish` sends its
 * body to every stream as one event, built once: `id: N` (so a client could resume; a stream
 * without ids cannot, and resuming is what SSE is for) and `data:`.
 */
import { createServer, type ServerResponse } from 'node:http';
import { listen } from './listen.js';

const streams = new Set<ServerResponse>();
let seq = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/events')) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    streams.add(res);
    res.on('close', () => streams.delete(res));
    return;
  }
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const frame = `id: ${++seq}\ndata: ${Buffer.concat(chunks).toString()}\n\n`;
      for (const stream of streams) stream.write(frame);
      res.writeHead(204).end();
    });
    return;
  }
  res.writeHead(404).end();
});

listen(server);
