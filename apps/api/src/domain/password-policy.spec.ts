import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.js';

describe('passwordProblem', () => {
  it.each([
    ['12345678', /at least 10/],
    ['password', /at least 10/],
    ['1234567890', /too common/],
    ['password123', /too common/],
    ['PassWord123', /too common/],
    ['qwertyuiop', /too common/],
    ['alice-the-great', /username/],
  ])('refuses %s', (password, why) => {
    expect(passwordProblem(password, 'alice-the-great', 10)).toMatch(why);
  });

  it('accepts a long uncommon password', () => {
    expect(passwordProblem('password-123', 'alice', 10)).toBeNull();
    expect(passwordProblem('correct horse battery staple', 'alice', 10)).toBeNull();
  });
});
