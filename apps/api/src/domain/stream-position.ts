/**
 * Positions in SSE logs, as `Last-Event-ID` carries them: a plain integer on a single-topic
 * stream, or `topic=seq` pairs joined by `,` on a multiplexed one (`notifications=12,blog:3=40`).
 */

export const TOPIC_PATTERN = /^(notifications|blog:[1-9][0-9]{0,9}|user:[1-9][0-9]{0,9}|board:[1-9][0-9]{0,9})$/;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export type ParsedPosition =
  | { kind: 'none' }
  | { kind: 'malformed' }
  | { kind: 'plain'; seq: number }
  | { kind: 'composite'; positions: Map<string, number> };

function parseSeq(raw: string): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= MAX_SEQ ? n : undefined;
}

/** Parses a Last-Event-ID (absent or empty: `none`). */
export function parsePosition(raw: string | undefined, composite: boolean): ParsedPosition {
  if (raw === undefined || raw.trim() === '') return { kind: 'none' };
  const value = raw.trim();
  if (value.length > 2048) return { kind: 'malformed' };
  if (!composite) {
    const seq = parseSeq(value);
    return seq === undefined ? { kind: 'malformed' } : { kind: 'plain', seq };
  }
  const positions = new Map<string, number>();
  for (const pair of value.split(',')) {
    const eq = pair.lastIndexOf('=');
    if (eq <= 0) return { kind: 'malformed' };
    const topic = pair.slice(0, eq);
    const seq = parseSeq(pair.slice(eq + 1));
    if (!TOPIC_PATTERN.test(topic) || seq === undefined || positions.has(topic)) return { kind: 'malformed' };
    positions.set(topic, seq);
  }
  return { kind: 'composite', positions };
}

/** The id of an event on a multiplexed stream: every topic's position, in the stream's topic order. */
export function formatComposite(topics: readonly string[], positions: ReadonlyMap<string, number> | readonly number[]): string {
  return topics.map((t, i) => `${t}=${(Array.isArray(positions) ? (positions as readonly number[])[i] : (positions as ReadonlyMap<string, number>).get(t)) ?? 0}`).join(',');
}
