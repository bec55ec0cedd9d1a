import { describe, expect, it } from 'vitest';
import { parseRoute, roomHref, sameRoute } from './router.svelte';

describe('routes from the URL hash', () => {
  it('reads rooms, messages and blogs, and falls back to the chat for anything else', () => {
    expect(parseRoute('')).toEqual({ view: 'chat', room: null, seq: null });
    expect(parseRoute('#/')).toEqual({ view: 'chat', room: null, seq: null });
    expect(parseRoute('#/rooms/design')).toEqual({ view: 'chat', room: 'design', seq: null });
    expect(parseRoute('#/rooms/design/')).toEqual({ view: 'chat', room: 'design', seq: null });
    expect(parseRoute('#/rooms/design/42')).toEqual({ view: 'chat', room: 'design', seq: 42 });
    expect(parseRoute('#/rooms/design/0')).toEqual({ view: 'chat', room: 'design', seq: null });
    expect(parseRoute('#/blogs')).toEqual({ view: 'blogs' });
    expect(parseRoute('#/blogs/3')).toEqual({ view: 'blog', id: 3 });
    // Hostile or malformed: no room by that name is asked for.
    for (const hash of ['#/rooms/', '#/rooms/%E0%A4%A', '#/rooms/<script>', '#/rooms/UPPER', '#/rooms/a%2Fb', `#/rooms/${'x'.repeat(40)}`, '#/rooms/_x']) {
      expect(parseRoute(hash), hash).toEqual({ view: 'chat', room: null, seq: null });
    }
  });

  it('writes what it reads', () => {
    expect(parseRoute(roomHref('design'))).toEqual({ view: 'chat', room: 'design', seq: null });
    expect(parseRoute(roomHref('design', 7))).toEqual({ view: 'chat', room: 'design', seq: 7 });
    expect(sameRoute(parseRoute('#/rooms/a/1'), parseRoute('#/rooms/a/1'))).toBe(true);
    expect(sameRoute(parseRoute('#/rooms/a/1'), parseRoute('#/rooms/a'))).toBe(false);
  });
});
