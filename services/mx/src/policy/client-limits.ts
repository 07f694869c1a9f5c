import { OpenCounts } from '@hermod/service-runtime';

/**
 * Per client IP: open connections (a cap) and messages per minute (a token bucket refilled
 * continuously). In memory per replica: a load balancer spreading one IP over n replicas lets it
 * through n times, which is the usual trade for not putting a shared store on the accept path.
 */
export class ClientLimits {
  private readonly open = new OpenCounts<string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly maxConnections: number,
    private readonly messagesPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers a connection; false when the IP already has the maximum open. */
  connect(ip: string): boolean {
    return this.open.tryOpen(ip, this.maxConnections);
  }

  disconnect(ip: string): void {
    this.open.close(ip);
  }

  connections(ip: string): number {
    return this.open.count(ip);
  }

  /** Takes one message token; false when the IP is over its rate. */
  takeMessage(ip: string): boolean {
    const now = this.now();
    const capacity = this.messagesPerMinute;
    const bucket = this.buckets.get(ip) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 60_000) * capacity);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(ip, bucket);
    if (this.buckets.size > 100_000) this.prune(now);
    return allowed;
  }

  // Full buckets carry no information; dropping them bounds memory under a spray of source IPs.
  private prune(now: number): void {
    for (const [ip, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 60_000) * this.messagesPerMinute >= this.messagesPerMinute)
        this.buckets.delete(ip);
  }
}
