import { describe, expect, it } from 'vitest';
import { mentionsUser, safeHref, segments, type Segment } from './rich-text';

// What `segments` returns, written as the text reads.
const text = (value: string): Segment => ({ kind: 'text', text: value });
const link = (value: string, href = value): Segment => ({ kind: 'link', text: value, href });
const mention = (value: string, username: string): Segment => ({ kind: 'mention', text: value, username });

describe('message text: links and mentions, safely', () => {
  it('links http(s) URLs and www. hosts, leaving trailing punctuation out', () => {
    expect(segments('see https://example.org/a?b=1, then www.example.com.')).toEqual([
      text('see '),
      link('https://example.org/a?b=1'),
      text(', then '),
      link('www.example.com', 'https://www.example.com/'),
      text('.'),
    ]);
    expect(segments('(https://en.wikipedia.org/wiki/A_(b))')[1]).toEqual(link('https://en.wikipedia.org/wiki/A_(b)'));
  });

  it('never makes a link of another scheme, and never produces markup', () => {
    for (const text of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'file:///etc/passwd']) {
      expect(segments(text).every((s) => s.kind !== 'link'), text).toBe(true);
    }
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('https://x.org/"><script>')).toBe('https://x.org/%22%3E%3Cscript%3E');
    expect(segments('<b>hi</b>')).toEqual([text('<b>hi</b>')]);
  });

  it('finds mentions as the server does: not in an email address, not too short', () => {
    expect(segments('hi @Alice and @bob_2, mail x@bob.com, @ab')).toEqual([
      text('hi '),
      mention('@Alice', 'alice'),
      text(' and '),
      mention('@bob_2', 'bob_2'),
      text(', mail x@bob.com, @ab'),
    ]);
    expect(mentionsUser('ping @ALICE', 'alice')).toBe(true);
    expect(mentionsUser('ping @alicex', 'alice')).toBe(false);
    expect(segments('@carol')).toEqual([mention('@carol', 'carol')]);
  });

  it('keeps every character of the text, in order', () => {
    const input = 'a https://x.org/p b @dave c www.y.com! d';
    expect(segments(input).map((s) => s.text).join('')).toBe(input);
  });
});
