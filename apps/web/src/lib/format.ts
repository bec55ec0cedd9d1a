const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

/** "14:03" today, "Nov 21, 14:03" on another day. Accepts epoch ms or an ISO string. */
export function formatTime(value: number | string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return (sameDay ? timeFormat : dateTimeFormat).format(date);
}

/** For a `<time datetime>` attribute. */
export function isoTime(value: number | string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and carol are typing…", "alice, bob and 3 others are typing…". */
export function typingSentence(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others are typing…`;
}

/**
 * A duration for people: "850 ms", "2.3 s", "4 min 12 s", "33 h 5 min". Milliseconds below a
 * second keep one decimal under 10 ms ("1.6 ms"), where the overlay's latencies live.
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '−' : '';
  const a = Math.abs(ms);
  if (a < 10) return `${sign}${a.toFixed(1)} ms`;
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
  const s = Math.round(a / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return `${sign}${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Bytes for people: "740 B", "12.4 kB", "3.1 MB" (powers of 1,000). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
