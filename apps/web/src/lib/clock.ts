/**
 * This page's clock as epoch ms with sub-millisecond precision: what `ping` frames carry as `t`
 * and what every receipt time for latency is read from (docs/protocol.md, "Metrics").
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
