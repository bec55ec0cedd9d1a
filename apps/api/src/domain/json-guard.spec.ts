import { describe, expect, it } from 'vitest';
import { jsonShapeProblem } from './json-guard.js';

describe('jsonShapeProblem', () => {
  it('accepts ordinary JSON', () => {
    expect(jsonShapeProblem({ a: [1, { b: 'c' }], d: null })).toBeNull();
    expect(jsonShapeProblem('text')).toBeNull();
  });

  it('refuses prototype-reaching keys at any depth', () => {
    expect(jsonShapeProblem(JSON.parse('{"__proto__":{"x":1}}'))).toBe('the key "__proto__" is not allowed');
    expect(jsonShapeProblem(JSON.parse('{"a":[{"constructor":{"prototype":{}}}]}'))).toBe('the key "constructor" is not allowed');
  });

  it('refuses deep nesting without overflowing itself', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonShapeProblem(deep)).toBe('JSON nested deeper than 32 levels');
    expect(jsonShapeProblem(JSON.parse('['.repeat(31) + ']'.repeat(31)))).toBeNull();
  });
});
