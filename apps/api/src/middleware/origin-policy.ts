import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which browser origins may change state or open a WebSocket: the app's own (an `Origin` whose
 * host is the request's `Host`) and an explicit list. A request without `Origin` is allowed
 * (curl, servers), unless `Sec-Fetch-Site: cross-site` shows a browser sent it from elsewhere.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins);
  }

  isAllowed(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin === undefined) return headers['sec-fetch-site'] !== 'cross-site';
    if (this.allowed.has(origin)) return true;
    let host: string;
    try {
      const url = new URL(origin);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
      host = url.host;
    } catch {
      return false; // includes the literal "null" origin of sandboxed frames and file: pages
    }
    return headers.host !== undefined && host === headers.host.toLowerCase();
  }
}

/** Methods that change state and so are checked against the origin policy. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
