// Stream positions (docs/protocol.md, "Ids, resume and reset").
//
// On `/api/events` an event id is the position in every topic of the stream, as `topic=seq`
// pairs joined by `,`: `notifications=12,blog:3=40`. Topic names never contain `=` or `,`.

/** Per topic, the sequence number of the last event of that topic's log. */
export type Position = Map<string, number>;

/**
 * Read a composite id. Pairs that are not `topic=non-negative integer` are skipped. A plain
 * number (the id of a single-topic stream) is read as the position of `plainTopic`, if given.
 */
export function parsePosition(id: string, plainTopic?: string): Position {
  const position: Position = new Map();
  const text = id.trim();
  if (/^\d+$/.test(text)) {
    if (plainTopic !== undefined) position.set(plainTopic, Number(text));
    return position;
  }
  for (const pair of text.split(',')) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) continue;
    const topic = pair.slice(0, at).trim();
    const seq = pair.slice(at + 1).trim();
    if (topic && /^\d+$/.test(seq)) position.set(topic, Number(seq));
  }
  return position;
}

/** The composite id of `topics` (in that order), leaving out the ones without a known position. */
export function formatPosition(topics: readonly string[], position: Position): string {
  return topics
    .filter((topic) => position.has(topic))
    .map((topic) => `${topic}=${position.get(topic)}`)
    .join(',');
}

/**
 * A query-string value that keeps `,`, `:` and `=` readable (`blog:3=40`): they are legal in a
 * query value and every parser splits a pair on its first `=` only.
 */
export function queryValue(value: string): string {
  return encodeURIComponent(value).replace(/%2C/gi, ',').replace(/%3A/gi, ':').replace(/%3D/gi, '=');
}
