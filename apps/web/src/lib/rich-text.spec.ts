import { describe, expect, it } from 'vitest';
import { mentionsUser, safeHref, segments } from './rich-text';

describe('message text: links and mentions, safely', () => {
  it('links http(s) URLs and www. hosts, leaving trailing punctuation out', () => {
    expect(segments('see https://example.org/a?b=1, then www.example.com.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: ', then ' },
      { kind: 'link', text: 'www.example.com', href: 'https://www.example.com/' },
      { kind: 'text', text: '.' },
    ]);
    expect(segments('(https://en.wikipedia.org/wiki/A_(b))')[1]).toEqual({ kind: 'link', text: 'https://en.wikipedia.org/wiki/A_(b)', href: 'https://en.wikipedia.org/wiki/A_(b)' });
  });

  it('never makes a link of another scheme, and never produces markup', () => {
    for (const text of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'file:///etc/passwd']) {
      expect(segments(text).every((s) => s.kind !== 'link'), text).toBe(true);
    }
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('https://x.org/"><script>')).toBe('https://x.org/%22%3E%3Cscript%3E');
    expect(segments('<b>hi</b>')).toEqual([{ kind: 'text', text: '<b>hi</b>' }]);
  });

  it('finds mentions as the server does: not in an email address, not too short', () => {
    expect(segments('hi @Alice and @bob_2, mail x@bob.com, @ab')).toEqual([
      { kind: 'text', text: 'hi ' },
      { kind: 'mention', text: '@Alice', username: 'alice' },
      { kind: 'text', text: ' and ' },
      { kind: 'mention', text: '@bob_2', username: 'bob_2' },
      { kind: 'text', text: ', mail x@bob.com, @ab' },
    ]);
    expect(mentionsUser('ping @ALICE', 'alice')).toBe(true);
    expect(mentionsUser('ping @alicex', 'alice')).toBe(false);
    expect(segments('@carol')).toEqual([{ kind: 'mention', text: '@carol', username: 'carol' }]);
  });

  it('keeps every character of the text, in order', () => {
    const text = 'a https://x.org/p b @dave c www.y.com! d';
    expect(segments(text).map((s) => s.text).join('')).toBe(text);
  });
});
