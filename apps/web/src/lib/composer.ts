/** What the composer needs to know about its text, for the counter and the refusal. */
export interface TextBudget {
  /** Characters as the server counts them (UTF-16 code units of the trimmed text). */
  length: number;
  max: number;
  /** Over the limit: refused, not cut. */
  over: boolean;
  /** Worth showing the counter (from 80% of the limit). */
  near: boolean;
  empty: boolean;
}

export function budget(text: string, max: number): TextBudget {
  const length = text.trim().length;
  return { length, max, over: length > max, near: length >= max * 0.8, empty: length === 0 };
}

/** The `@prefix` being typed just before the caret, if any: where it starts and what it says so far. */
export function mentionQuery(text: string, caret: number): { start: number; prefix: string } | null {
  const before = text.slice(0, caret);
  const match = /(^|[^a-z0-9_-])@([a-z0-9_-]{0,32})$/i.exec(before);
  if (!match) return null;
  return { start: before.length - match[2].length - 1, prefix: match[2].toLowerCase() };
}

/** Up to `limit` names starting with `prefix` (then containing it), without `me`, sorted. */
export function suggest(names: Iterable<string>, prefix: string, me: string, limit = 6): string[] {
  const unique = [...new Set(names)].filter((n) => n !== me);
  const starts = unique.filter((n) => n.startsWith(prefix)).sort();
  const contains = prefix ? unique.filter((n) => !n.startsWith(prefix) && n.includes(prefix)).sort() : [];
  return [...starts, ...contains].slice(0, limit);
}

/** `text` with the `@prefix` at `start` replaced by `@name `; returns it and the caret after it. */
export function complete(text: string, caret: number, start: number, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  const after = text.slice(caret).replace(/^[a-z0-9_-]*/i, '');
  return { text: text.slice(0, start) + inserted + after.replace(/^ /, ''), caret: start + inserted.length };
}
