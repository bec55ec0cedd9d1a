import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OriginPolicy } from './origin-policy.js';

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['https://app.example.com']);
  it.each<[IncomingHttpHeaders, boolean, string]>([
    [{ host: 'localhost:3000' }, true, 'no Origin (curl)'],
    [{ host: 'localhost:3000', 'sec-fetch-site': 'same-origin' }, true, 'no Origin, same-origin fetch metadata'],
    [{ host: 'localhost:3000', 'sec-fetch-site': 'cross-site' }, false, 'no Origin but a cross-site browser request'],
    [{ host: 'localhost:3000', origin: 'http://localhost:3000' }, true, 'own origin'],
    [{ host: 'LOCALHOST:3000', origin: 'http://localhost:3000' }, true, 'own origin, Host in upper case'],
    [{ host: 'localhost:3000', origin: 'http://localhost:3001' }, false, 'another port'],
    [{ host: 'localhost:3000', origin: 'http://evil.example' }, false, 'another site'],
    [{ host: 'localhost:3000', origin: 'https://app.example.com' }, true, 'listed origin'],
    [{ host: 'localhost:3000', origin: 'null' }, false, 'opaque origin'],
    [{ host: 'localhost:3000', origin: 'file://localhost:3000' }, false, 'file scheme'],
    [{ origin: 'http://localhost:3000' }, false, 'no Host header'],
  ])('%o → %s (%s)', (headers, allowed) => {
    expect(policy.isAllowed(headers)).toBe(allowed);
  });
});
