import type { IncomingHttpHeaders } from 'node:http';

/** Loopback host names a quick-start browser may use for the app. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Which browser origins may change state or open a WebSocket: the configured ones only
 * (`PUBLIC_ORIGIN` plus `ALLOWED_ORIGINS`), compared exactly, scheme and port included. With no
 * `PUBLIC_ORIGIN` (the embedded quick start) the app's origin is taken to be the loopback one on
 * the port the server listens on: `http://localhost:PORT`, `http://127.0.0.1:PORT`,
 * `http://[::1]:PORT`. The request's own `Host` header is never trusted for this: any client can
 * set it. A request without `Origin` is allowed (curl, servers), unless `Sec-Fetch-Site:
 * cross-site` shows a browser sent it from elsewhere.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly usesLoopback: boolean;
  private loopbackPort?: number;
  private loopback: ReadonlySet<string> = new Set();

  /**
   * @param publicOrigin the app's origin; empty for the loopback default.
   * @param listeningPort the port the server listens on (read when a request comes, so a server
   *   started on port 0 works).
   */
  constructor(
    publicOrigin: string,
    allowedOrigins: readonly string[],
    private readonly listeningPort: () => number | undefined = () => undefined,
  ) {
    this.allowed = new Set([...(publicOrigin ? [publicOrigin] : []), ...allowedOrigins]);
    this.usesLoopback = publicOrigin === '';
  }

  isAllowed(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin === undefined) return headers['sec-fetch-site'] !== 'cross-site';
    return this.allowed.has(origin) || (this.usesLoopback && this.loopbackOrigins().has(origin));
  }

  private loopbackOrigins(): ReadonlySet<string> {
    const port = this.listeningPort();
    if (port !== this.loopbackPort) {
      this.loopbackPort = port;
      this.loopback = new Set(port === undefined ? [] : LOOPBACK_HOSTS.map((host) => `http://${host}:${port}`));
    }
    return this.loopback;
  }
}

/** Methods that change state and so are checked against the origin policy. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
