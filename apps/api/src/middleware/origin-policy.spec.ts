import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OriginPolicy } from './origin-policy.js';

describe('OriginPolicy', () => {
  describe('with PUBLIC_ORIGIN', () => {
    const policy = new OriginPolicy('https://chat.example.com', ['https://app.example.com'], () => 3000);
    it.each<[IncomingHttpHeaders, boolean, string]>([
      [{ host: 'chat.example.com' }, true, 'no Origin (curl)'],
      [{ host: 'chat.example.com', 'sec-fetch-site': 'same-origin' }, true, 'no Origin, same-origin fetch metadata'],
      [{ host: 'chat.example.com', 'sec-fetch-site': 'cross-site' }, false, 'no Origin but a cross-site browser request'],
      [{ host: 'chat.example.com', origin: 'https://chat.example.com' }, true, 'the public origin'],
      [{ host: 'chat.example.com', origin: 'http://chat.example.com' }, false, 'the public host over another scheme'],
      [{ host: 'chat.example.com', origin: 'https://chat.example.com:8443' }, false, 'the public host on another port'],
      [{ host: 'evil.example', origin: 'http://evil.example' }, false, 'a foreign origin that set Host to match itself'],
      [{ host: 'localhost:3000', origin: 'http://localhost:3000' }, false, 'loopback, once a public origin is set'],
      [{ host: 'chat.example.com', origin: 'https://app.example.com' }, true, 'listed origin'],
      [{ host: 'chat.example.com', origin: 'null' }, false, 'opaque origin'],
      [{ host: 'chat.example.com', origin: 'file://chat.example.com' }, false, 'file scheme'],
    ])('%o → %s (%s)', (headers, allowed) => {
      expect(policy.isAllowed(headers)).toBe(allowed);
    });
  });

  describe('the quick-start default (no PUBLIC_ORIGIN)', () => {
    let port: number | undefined;
    const policy = new OriginPolicy('', [], () => port);
    it('allows the loopback origins of the listening port, over http, and nothing else', () => {
      port = 3000;
      for (const origin of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) expect(policy.isAllowed({ origin }), origin).toBe(true);
      for (const origin of ['http://localhost:3001', 'https://localhost:3000', 'http://evil.example', 'http://localhost']) {
        expect(policy.isAllowed({ origin, host: origin.replace(/^https?:\/\//, '') }), origin).toBe(false);
      }
    });
    it('follows the port once the server listens (port 0 at boot)', () => {
      port = undefined;
      expect(policy.isAllowed({ origin: 'http://localhost:4123' })).toBe(false);
      port = 4123;
      expect(policy.isAllowed({ origin: 'http://localhost:4123' })).toBe(true);
    });
  });
});
