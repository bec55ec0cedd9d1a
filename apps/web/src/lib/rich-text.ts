/**
 * A message's text as segments to render: plain text, links and @mentions. Nothing here is HTML:
 * the component renders each segment as a text node or an element, so a message cannot inject
 * markup, and only http(s) URLs become links (never `javascript:`, `data:` and the like).
 */
export type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'link'; text: string; href: string }
  | { kind: 'mention'; text: string; username: string };

/** As the server reads mentions (apps/api chat.service MENTION): @ and 3 to 32 of a-z, 0-9, _ and -. */
const MENTION = /(^|[^a-z0-9_-])@([a-z0-9_-]{3,32})(?![a-z0-9_-])/gi;
/** http(s) URLs and bare www. hosts, up to whitespace; trailing punctuation is not part of them. */
const URL_PATTERN = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** The href for a matched URL, or null if it is not a safe web link. */
export function safeHref(raw: string): string | null {
  const candidate = /^www\./i.test(raw) ? `https://${raw}` : raw;
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function mentions(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    const start = match.index + match[1].length;
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) });
    out.push({ kind: 'mention', text: `@${match[2]}`, username: match[2].toLowerCase() });
    last = start + 1 + match[2].length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}

export function segments(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    // "(see https://x.org/a)." keeps ")." out of the link, but a URL's own balanced parentheses stay.
    const trailing = TRAILING.exec(raw)?.[0] ?? '';
    if (trailing) {
      const kept = trailing.startsWith(')') && (raw.match(/\(/g)?.length ?? 0) > (raw.slice(0, -trailing.length).match(/\)/g)?.length ?? 0) ? ')' : '';
      raw = raw.slice(0, raw.length - trailing.length) + kept;
    }
    const href = safeHref(raw);
    if (!href) continue;
    if (match.index > last) out.push(...mentions(text.slice(last, match.index)));
    out.push({ kind: 'link', text: raw, href });
    last = match.index + raw.length;
  }
  if (last < text.length) out.push(...mentions(text.slice(last)));
  return out;
}

/** Whether `text` mentions `username` (as the server would notify them). */
export function mentionsUser(text: string, username: string): boolean {
  return segments(text).some((s) => s.kind === 'mention' && s.username === username.toLowerCase());
}
