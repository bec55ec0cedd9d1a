/**
 * Deadlines for many connections with one timer: keys are grouped by the second they expire in
 * (connections opened with the same session token share a group), and one unref'd interval
 * hands every key whose second has passed to `onExpire`. A per-connection `setTimeout` costs a
 * Timeout, a closure and its context (about 250 bytes) for every idle socket; this costs a Set
 * entry. Expiry fires up to `resolutionMs` late, never early.
 */
export class ExpirySweep<K> {
  private readonly groups = new Map<number, Set<K>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly onExpire: (key: K) => void,
    private readonly resolutionMs = 1000,
  ) {}

  /** Calls `onExpire(key)` once `at` (epoch ms) has passed, unless removed first. Returns the group to pass to `remove`. */
  add(key: K, at: number): number {
    const group = Math.ceil(at / this.resolutionMs);
    let keys = this.groups.get(group);
    if (!keys) this.groups.set(group, (keys = new Set()));
    keys.add(key);
    this.timer ??= setInterval(() => this.sweep(), this.resolutionMs).unref();
    return group;
  }

  remove(key: K, group: number): void {
    const keys = this.groups.get(group);
    if (!keys?.delete(key) || keys.size > 0) return;
    this.groups.delete(group);
    this.idle();
  }

  get size(): number {
    let n = 0;
    for (const keys of this.groups.values()) n += keys.size;
    return n;
  }

  /** Expires what is due now (the interval calls it; exposed for tests). */
  sweep(now = Date.now()): void {
    const due = Math.floor(now / this.resolutionMs);
    for (const [group, keys] of this.groups) {
      if (group > due) continue;
      this.groups.delete(group);
      for (const key of keys) this.onExpire(key);
    }
    this.idle();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.groups.clear();
  }

  private idle(): void {
    if (this.groups.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
