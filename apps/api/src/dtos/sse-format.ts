/**
 * One Server-Sent Event in wire format. Data is split on every line terminator the spec knows
 * (CRLF, LF, CR) into separate `data:` lines, so no payload can end an event early or inject a
 * field; the browser joins them back with LF.
 */
export function formatSseEvent(id: number, event: string, data: string): string {
  const lines = data.split(/\r\n|\r|\n/);
  let out = `id: ${id}\nevent: ${event}\n`;
  for (const line of lines) out += `data: ${line}\n`;
  return out + '\n';
}

/** The server's clock in fractional epoch milliseconds, for `sentAt`. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
