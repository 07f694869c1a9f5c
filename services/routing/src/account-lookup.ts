import type { Account } from '@hermod/accounts';

/**
 * Lookups (accounts, groups) of one moment answered by one query: the addresses asked for while the current
 * batch is being planned (and RCPT checks arriving together) are collected until the event loop
 * turns, then fetched at once. Nothing is cached beyond that one query, so a change to an account
 * is seen by the next lookup.
 */
export class CoalescingLookup<T> {
  private pending = new Map<
    string,
    Array<{ resolve: (a: T | undefined) => void; reject: (e: unknown) => void }>
  >();
  private scheduled = false;

  constructor(private readonly fetchMany: (addresses: string[]) => Promise<Map<string, T>>) {}

  find(address: string): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(address);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(address, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    try {
      const found = await this.fetchMany([...batch.keys()]);
      for (const [address, waiting] of batch) for (const w of waiting) w.resolve(found.get(address));
    } catch (error) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(error);
    }
  }
}

/** Accounts by address, coalesced. */
export class CoalescingAccountLookup extends CoalescingLookup<Account> {}
