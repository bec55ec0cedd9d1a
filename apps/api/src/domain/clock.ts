/** The server's clock in fractional epoch milliseconds: `sentAt` and `serverTime` in frames and events. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
