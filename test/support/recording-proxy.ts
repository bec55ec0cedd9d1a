import net from 'node:net';

/** A TCP proxy on loopback that records every byte the server sends, per connection. */
export async function countingProxy(targetPort: number) {
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    upstream.pipe(client);
    client.pipe(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Bytes the server sent on connection `i` after its HTTP head (101 answer or response head). */
    bodyBytes(i: number): number {
      return this.body(i).length;
    },
    /** What the server sent on connection `i` after its HTTP head. */
    body(i: number): Buffer {
      const all = Buffer.concat(connections[i]!);
      return all.subarray(all.indexOf('\r\n\r\n') + 4);
    },
    /** Connections seen so far. */
    get count(): number {
      return connections.length;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

