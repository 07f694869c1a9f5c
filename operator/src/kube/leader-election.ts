import type { Logger } from '@hermod/logging';
import { KubeApiError } from './errors.js';
import type { KubeClient } from './kube-client.js';
import { sleep } from './sleep.js';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  logger: Logger;
  /** How long a lease is good for without renewal; a candidate takes over after this (default 8 s). */
  leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long (default 5 s; < leaseDuration). */
  renewDeadlineMs?: number;
  /** Attempt interval for both renewing and acquiring (default 1.5 s). */
  retryPeriodMs?: number;
  fieldManager: string;
}

/** RFC 3339 with microseconds, the MicroTime format Lease fields use. */
const microTime = (date: Date): string => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Leader election through a coordination.k8s.io Lease, as client-go does it: expiry is judged by
 * the local time at which we last saw the lease change (no trust in other clocks), every write is
 * conditional on resourceVersion, and a leader that cannot renew within renewDeadline stops
 * leading before its lease can expire, so there is never a second writer.
 */
export class LeaderElector {
  private observedRecord: string | undefined;
  private observedAt = 0;
  private leading = false;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 8_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 5_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 1_500;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
  }

  /** One attempt to acquire or renew; true when we hold the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, name, namespace, fieldManager } = this.options;
    const now = new Date();
    const desired = (current?: Lease): Lease => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        ...(current?.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime:
          current?.spec.holderIdentity === identity && current.spec.acquireTime
            ? current.spec.acquireTime
            : microTime(now),
        renewTime: microTime(now),
        leaseTransitions:
          (current?.spec.leaseTransitions ?? 0) +
          (current && current.spec.holderIdentity !== identity ? 1 : 0),
      },
    });
    const current = await client.getOptional<Lease>(`${this.path}/${name}`);
    if (!current) {
      await client.create(this.path, desired(), fieldManager);
      this.observe(desired());
      return true;
    }
    const record = JSON.stringify(current.spec);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = current.spec.holderIdentity;
    const duration = (current.spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== identity && this.observedAt + duration > Date.now()) return false;
    const next = desired(current);
    await client.replace(`${this.path}/${name}`, next, fieldManager);
    this.observe(next);
    return true;
  }

  private observe(lease: Lease): void {
    this.observedRecord = JSON.stringify(lease.spec);
    this.observedAt = Date.now();
  }

  /**
   * Campaigns until elected, calls lead(signal), and keeps renewing; when renewal fails for
   * renewDeadline (or stop is signalled) the signal aborts and run() resolves once lead() returns.
   */
  async run(lead: (signal: AbortSignal) => Promise<void>, stop: AbortSignal): Promise<void> {
    const { logger } = this.options;
    while (!stop.aborted) {
      const acquired = await this.attempt();
      if (acquired) break;
      await sleep(this.retryPeriodMs * (1 + Math.random() * 0.2), stop);
    }
    if (stop.aborted) return;
    this.leading = true;
    logger.info({ identity: this.options.identity, lease: this.options.name }, 'became leader');
    const leadership = new AbortController();
    const onStop = () => leadership.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const work = lead(leadership.signal);
    let lastRenew = Date.now();
    while (!leadership.signal.aborted) {
      await sleep(this.retryPeriodMs, leadership.signal);
      if (leadership.signal.aborted) break;
      if (await this.attempt()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.renewDeadlineMs) {
        logger.error({ identity: this.options.identity }, 'could not renew the lease in time; stepping down');
        leadership.abort();
      }
    }
    this.leading = false;
    stop.removeEventListener('abort', onStop);
    await work;
    if (stop.aborted) await this.release();
  }

  private async attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (error) {
      if (!(error instanceof KubeApiError && error.conflict)) {
        this.options.logger.warn({ err: error }, 'leader election attempt failed');
      }
      return false;
    }
  }

  /** On graceful stop: give the lease up so a standby takes over at once, not after expiry. */
  private async release(): Promise<void> {
    const { client, name, identity, fieldManager } = this.options;
    try {
      const current = await client.getOptional<Lease>(`${this.path}/${name}`);
      if (!current || current.spec.holderIdentity !== identity) return;
      await client.replace(
        `${this.path}/${name}`,
        {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: null,
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()),
          },
        },
        fieldManager,
      );
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not release the lease');
    }
  }
}
