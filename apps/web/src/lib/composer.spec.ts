import { describe, expect, it } from 'vitest';
import { budget, complete, mentionQuery, suggest } from './composer';

describe('the composer', () => {
  it('counts as the server does and refuses past the limit instead of cutting', () => {
    expect(budget('  hi  ', 4000)).toMatchObject({ length: 2, over: false, near: false, empty: false });
    expect(budget('x'.repeat(3200), 4000)).toMatchObject({ near: true, over: false });
    expect(budget('x'.repeat(4000), 4000).over).toBe(false);
    expect(budget('x'.repeat(4001), 4000)).toMatchObject({ length: 4001, over: true });
    expect(budget(' \n ', 4000).empty).toBe(true);
  });

  it('finds the @name being typed at the caret, not an email address', () => {
    expect(mentionQuery('hi @al', 6)).toEqual({ start: 3, prefix: 'al' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, prefix: '' });
    expect(mentionQuery('hi @Al there', 6)).toEqual({ start: 3, prefix: 'al' });
    expect(mentionQuery('mail x@bo', 9)).toBeNull();
    expect(mentionQuery('hi @al there', 12)).toBeNull();
  });

  it('suggests members by prefix, then by substring, never yourself', () => {
    expect(suggest(['bob', 'alice', 'albert', 'carol', 'malcolm', 'alice'], 'al', 'albert')).toEqual(['alice', 'malcolm']);
    expect(suggest(['bob', 'alice'], '', 'zed')).toEqual(['alice', 'bob']);
  });

  it('completes the name in place, with one space after it', () => {
    expect(complete('hi @al', 6, 3, 'alice')).toEqual({ text: 'hi @alice ', caret: 10 });
    expect(complete('hi @al, ok', 6, 3, 'alice')).toEqual({ text: 'hi @alice , ok', caret: 10 });
    expect(complete('hi @al there', 6, 3, 'alice')).toEqual({ text: 'hi @alice there', caret: 10 });
  });
});
