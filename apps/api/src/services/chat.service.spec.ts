import { describe, expect, it } from 'vitest';
import { mentionedUsernames } from './chat.service.js';

describe('mentionedUsernames', () => {
  it.each([
    ['hi @bob', ['bob']],
    ['@bob at the start', ['bob']],
    ['@Bob and @BOB are one user', ['bob']],
    ['two: @bob, @carol!', ['bob', 'carol']],
    ['an email like x@bob.com is not a mention', []],
    ['too short @ab', []],
    ['punctuation after @dave.', ['dave']],
    ['@with_under-score', ['with_under-score']],
    ['no mention', []],
  ])('%s', (text, expected) => {
    expect(mentionedUsernames(text)).toEqual(expected);
  });

  it('caps the number of mentions one message can cause', () => {
    const text = Array.from({ length: 50 }, (_, i) => `@user${i}`).join(' ');
    expect(mentionedUsernames(text)).toHaveLength(20);
  });
});
