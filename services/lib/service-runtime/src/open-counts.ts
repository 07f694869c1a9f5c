/**
 * What is open per key (connections per client IP, sessions per account), in memory on this
 * replica: one more may open while fewer than the cap are; a key is forgotten when its last closes,
 * so memory follows what is open, not every key ever seen.
 */
export class OpenCounts<K> {
  private readonly counts = new Map<K, number>();

  /** Counts one more open for key; false, and nothing counted, when `max` are open already. */
  tryOpen(key: K, max: number): boolean {
    const open = this.counts.get(key) ?? 0;
    if (open >= max) return false;
    this.counts.set(key, open + 1);
    return true;
  }

  /** One of key's closed (a close without an open is ignored). */
  close(key: K): void {
    const open = (this.counts.get(key) ?? 1) - 1;
    if (open > 0) this.counts.set(key, open);
    else this.counts.delete(key);
  }

  count(key: K): number {
    return this.counts.get(key) ?? 0;
  }
}
