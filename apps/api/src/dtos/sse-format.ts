/** The server's clock in fractional epoch milliseconds, for `sentAt`. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
