import type { Server } from 'node:net';

/** Listens on loopback (port from PORT, default any free one) and tells the orchestrator which port. */
export function listen(server: Server): void {
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    if (process.send) process.send({ listening: port });
    else console.log(`listening on ${port}`);
  });
  // A baseline has nothing to save: stop at once rather than wait for clients to hang up.
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** A connection's role from `?role=` (sub: receives, pub: publishes, both: a chat participant, idle: neither). */
export function roleOf(url: string | undefined): 'sub' | 'pub' | 'both' | 'idle' {
  const role = new URL(url ?? '/', 'http://x').searchParams.get('role');
  return role === 'pub' || role === 'both' || role === 'idle' ? role : 'sub';
}
