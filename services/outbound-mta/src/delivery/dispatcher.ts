import type { Pool } from '@hermod/db';
import type { DomainConfigValue } from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import type { DkimSigningKey } from '../dkim/dkim-sign.js';
import { DestinationError, type DnsResolver } from '../dns/resolve-destination.js';
import type { OutboundMetrics } from '../metrics.js';
import { type AttemptResult, type FinishDeps, finishAttempt } from '../queue/finish.js';
import { DeliveredBatcher } from '../queue/finish-delivered.js';
import { leaseDue, type QueueEntry, releaseLeases, renewLeases } from '../queue/lease.js';
import type { MtaStsCache } from '../tls/mta-sts.js';
import type { ReplyClassifier } from './classify.js';
import { deliverMessage, type PreparedMessage, prepareMessage } from './deliver-message.js';
import { planRoute, type RoutePlan } from './plan-route.js';
import { SessionError, SmtpSession } from './smtp-session.js';

export interface DispatcherSettings {
  owner: string;
  heloName: string;
  smtpPort: number;
  concurrency: number;
  destinationConcurrency: number;
  messagesPerConnection: number;
  leaseMs: number;
  pollIntervalMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  ca?: Buffer | undefined;
}

export interface DispatcherDeps {
  pool: Pool;
  logger: Logger;
  resolver: DnsResolver;
  domainConfig: (domain: string) => DomainConfigValue | undefined;
  dkimKey: (domain: string) => Promise<DkimSigningKey | undefined>;
  mtaSts: MtaStsCache;
  classify: ReplyClassifier;
  finish: FinishDeps;
  metrics: OutboundMetrics;
  settings: DispatcherSettings;
  now?: () => number;
}

/** The recipients of one message that go to one destination: one SMTP transaction. */
interface MessageWork {
  spoolId: string;
  entries: QueueEntry[];
}

interface Destination {
  key: string;
  domain: string;
  destination: Record<string, unknown> | null;
  pending: MessageWork[];
  active: number;
}

/**
 * The queue manager of one replica: leases due recipients from PostgreSQL, groups them per
 * destination, and runs up to `destinationConcurrency` connections per destination (and
 * `concurrency` in all), each delivering several messages in turn over one session.
 */
export class Dispatcher {
  private readonly destinations = new Map<string, Destination>();
  private active = 0;
  private inFlightMessages = 0;
  /** Messages with an attempt leased by this replica (count of works per spool id). */
  private readonly attempting = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private again = false;
  private readonly idle: Array<() => void> = [];
  /** Bookkeeping of finished transactions still being written. */
  private readonly finishing = new Set<Promise<void>>();

  private readonly delivered: DeliveredBatcher;

  constructor(private readonly deps: DispatcherDeps) {
    this.delivered = new DeliveredBatcher(deps.pool, { maxBatch: 200, maxStatements: 2 });
  }

  start(): void {
    this.schedule(0);
    // A remote slower than the lease must not look like a dead worker: renew while attempts run.
    const every = Math.max(500, Math.floor(this.deps.settings.leaseMs / 3));
    this.renewTimer = setInterval(() => void this.renewLeases(), every);
    this.renewTimer.unref();
  }

  /** New work arrived (a job, a CLI retry): look at once instead of at the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  /** Stops leasing, lets sessions finish, hands back the leases of work not started. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.renewTimer);
    await this.ticking;
    for (const d of this.destinations.values()) d.pending = [];
    if (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    await Promise.all(this.finishing);
    await releaseLeases(this.deps.pool, this.deps.settings.owner);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'queue scan failed'))
        .finally(() => {
          this.ticking = undefined;
          if (this.stopped) return;
          const again = this.again;
          this.again = false;
          this.schedule(again ? 0 : this.deps.settings.pollIntervalMs);
        });
    }, ms);
  }

  private async tick(): Promise<void> {
    const { settings } = this.deps;
    // Keep enough leased work for every connection to reuse its session, and no more.
    const budget =
      settings.concurrency * Math.min(settings.messagesPerConnection, 20) - this.inFlightMessages;
    if (budget <= 0) return;
    const leased = await leaseDue(this.deps.pool, settings.owner, Math.min(budget, 1_000), settings.leaseMs);
    if (leased.length === 0) return;
    const works = new Map<string, { dest: string; work: MessageWork; entry: QueueEntry }>();
    for (const entry of leased) {
      const destKey = `${entry.domain}|${JSON.stringify(entry.destination?.relayHosts ?? [])}`;
      const key = `${entry.spoolId}|${destKey}`;
      const existing = works.get(key);
      if (existing) existing.work.entries.push(entry);
      else works.set(key, { dest: destKey, work: { spoolId: entry.spoolId, entries: [entry] }, entry });
    }
    for (const { dest, work, entry } of works.values()) {
      let d = this.destinations.get(dest);
      if (!d) {
        d = { key: dest, domain: entry.domain, destination: entry.destination, pending: [], active: 0 };
        this.destinations.set(dest, d);
      }
      d.pending.push(work);
      this.inFlightMessages++;
      this.attempting.set(work.spoolId, (this.attempting.get(work.spoolId) ?? 0) + 1);
    }
    if (leased.length >= budget) this.again = true;
    this.pump();
  }

  private pump(): void {
    const { settings } = this.deps;
    for (const d of this.destinations.values()) {
      while (
        d.pending.length > 0 &&
        d.active < settings.destinationConcurrency &&
        this.active < settings.concurrency &&
        !this.stopped
      ) {
        d.active++;
        this.active++;
        void this.runConnection(d).finally(() => {
          d.active--;
          this.active--;
          if (d.active === 0 && d.pending.length === 0) this.destinations.delete(d.key);
          if (this.active === 0) for (const resolve of this.idle.splice(0)) resolve();
          this.pump();
          if (!this.stopped) this.wake();
        });
      }
    }
  }

  private async runConnection(d: Destination): Promise<void> {
    const first = d.pending.shift();
    if (!first) return;
    let plan: RoutePlan;
    try {
      plan = await planRoute({
        domain: d.domain,
        destination: d.destination,
        config: this.deps.domainConfig(d.domain),
        resolver: this.deps.resolver,
        mtaSts: this.deps.mtaSts,
        smtpPort: this.deps.settings.smtpPort,
      });
    } catch (error) {
      const e =
        error instanceof DestinationError
          ? error
          : new DestinationError('DNS_TEMPORARY', false, '4.4.3', String(error));
      await this.failAll(d, first, e.permanent ? 'failed' : 'deferred', e.status, e.message, undefined);
      return;
    }
    let connected: { session: SmtpSession; host: string } | undefined;
    try {
      connected = await this.connect(plan);
    } catch (error) {
      const e = error as SessionError;
      const tlsMissing = plan.requireTls && /STARTTLS|TLS/i.test(`${e.code} ${e.message}`);
      const reason = tlsMissing
        ? `TLS required (${plan.policy ?? 'tls required'}) but not available: ${e.message}`
        : e.message;
      await this.failAll(d, first, 'deferred', tlsMissing ? '4.7.5' : '4.4.1', reason, undefined);
      return;
    }
    const { session, host } = connected;
    try {
      let work: MessageWork | undefined = first;
      let prepared = this.prepare(work);
      let sent = 0;
      while (work) {
        const current: MessageWork = work;
        const ready = await prepared;
        sent++;
        work =
          sent >= this.deps.settings.messagesPerConnection || this.stopped ? undefined : d.pending.shift();
        // The next message is read from the spool while this one is on the wire.
        if (work) prepared = this.prepare(work);
        const ok = await this.deliverOne(session, current, ready, host, plan);
        if (!ok || !session.usable) {
          if (work) d.pending.unshift(work); // for the next connection
          break;
        }
      }
    } finally {
      session.close();
    }
  }

  /** Loads and signs one message; never rejects (a prefetched message may be abandoned). */
  private prepare(work: MessageWork): Promise<PreparedMessage | undefined | Error> {
    return prepareMessage(this.deps.pool, work.entries, this.deps.dkimKey).catch((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)),
    );
  }

  /**
   * One transaction on the session; the bookkeeping runs in the background so the session goes on
   * to the next message at once (the lease covers the recipients until it is done). Returns false
   * when the session broke and must not be used again.
   */
  private async deliverOne(
    session: SmtpSession,
    work: MessageWork,
    prepared: PreparedMessage | undefined | Error,
    host: string,
    plan: RoutePlan,
  ): Promise<boolean> {
    const started = this.deps.now?.() ?? Date.now();
    if (!prepared || prepared instanceof Error) {
      // Gone (deleted: its queue rows went with it), or database trouble: the lease expires and
      // the recipients are tried again.
      if (prepared)
        this.deps.logger.error({ err: prepared, spoolId: work.spoolId }, 'loading the message failed');
      this.settle(work);
      return true;
    }
    let results: AttemptResult[];
    let ok = true;
    try {
      results = await deliverMessage(session, prepared, work.entries, this.deps.classify, host);
    } catch (error) {
      ok = false;
      const e = error as Error;
      results = work.entries.map((entry) => ({
        entry,
        kind: 'deferred' as const,
        status: '4.4.2',
        reply: `connection to ${host} lost: ${e.message}`,
        host,
        tls: session.tlsOutcome,
      }));
    }
    if (plan.policy) for (const r of results) r.tls = `${r.tls ?? 'none'} (${plan.policy})`;
    const bookkeeping = this.finish(work, results, prepared.context, started)
      .catch((error: unknown) => {
        // Database trouble: the lease expires and the recipients are tried again.
        this.deps.logger.error({ err: error, spoolId: work.spoolId }, 'delivery bookkeeping failed');
        this.settle(work);
      })
      .finally(() => this.finishing.delete(bookkeeping));
    this.finishing.add(bookkeeping);
    return ok;
  }

  /** One leased work is done (recorded, or left to its lease after database trouble). */
  private settle(work: MessageWork): void {
    this.inFlightMessages--;
    const left = (this.attempting.get(work.spoolId) ?? 1) - 1;
    if (left > 0) this.attempting.set(work.spoolId, left);
    else this.attempting.delete(work.spoolId);
  }

  private async renewLeases(): Promise<void> {
    if (this.attempting.size === 0) return;
    const { pool, settings } = this.deps;
    await renewLeases(pool, settings.owner, [...this.attempting.keys()], settings.leaseMs).catch(
      (error: unknown) => this.deps.logger.warn({ err: error }, 'renewing leases failed'),
    );
  }

  private async finish(
    work: MessageWork,
    results: AttemptResult[],
    context: Parameters<typeof finishAttempt>[1],
    started: number,
  ): Promise<void> {
    let recorded = results;
    // Every recipient accepted (the usual case): group-committed with other such outcomes.
    if (results.length > 0 && results.every((r) => r.kind === 'delivered')) {
      await this.delivered.record({ spoolId: context.spoolId, results });
      for (const r of results)
        this.deps.logger.info(
          {
            spoolId: context.spoolId,
            rcptIndex: r.entry.rcptIndex,
            result: r.kind,
            reply: r.reply,
            host: r.host,
            tls: r.tls,
          },
          'delivered',
        );
    } else recorded = await finishAttempt(this.deps.finish, context, results);
    this.settle(work);
    const now = this.deps.now?.() ?? Date.now();
    for (const r of recorded) {
      this.deps.metrics.results.inc({ result: r.kind });
      if (r.kind === 'delivered')
        this.deps.metrics.deliveryLatency.observe((now - r.entry.queuedAt.getTime()) / 1000);
    }
    this.deps.metrics.attemptDuration.observe((now - started) / 1000);
  }

  /** Defers or fails `first` and everything else pending for this destination with one reason. */
  private async failAll(
    d: Destination,
    first: MessageWork,
    kind: 'deferred' | 'failed',
    status: string,
    reason: string,
    host: string | undefined,
  ): Promise<void> {
    const works = [first, ...d.pending.splice(0)];
    this.deps.logger.info(
      { domain: d.domain, messages: works.length, reason, kind },
      'destination unavailable',
    );
    for (const work of works) {
      try {
        const prepared = await prepareMessage(this.deps.pool, work.entries, async () => undefined);
        if (!prepared) {
          this.settle(work);
          continue;
        }
        const results = work.entries.map((entry) => ({
          entry,
          kind,
          status,
          reply: reason,
          ...(host ? { host } : {}),
        }));
        await this.finish(work, results, prepared.context, this.deps.now?.() ?? Date.now());
      } catch (error) {
        this.deps.logger.error({ err: error, spoolId: work.spoolId }, 'delivery bookkeeping failed');
        this.settle(work);
      }
    }
  }

  /** Every address of a host before the next host; the first session that opens wins. */
  private async connect(plan: RoutePlan): Promise<{ session: SmtpSession; host: string }> {
    let last: unknown = new SessionError('ENOHOST', undefined, undefined, 'no host to try');
    for (const target of plan.hosts) {
      for (const address of target.addresses) {
        try {
          const session = await SmtpSession.open({
            host: target.name,
            address,
            port: target.port,
            heloName: this.deps.settings.heloName,
            requireTls: plan.requireTls || target.requireTls,
            verifyTls: plan.verifyTls,
            ca: this.deps.settings.ca,
            connectTimeoutMs: this.deps.settings.connectTimeoutMs,
            commandTimeoutMs: this.deps.settings.commandTimeoutMs,
          });
          return { session, host: `${target.name}[${address}]:${target.port}` };
        } catch (error) {
          this.deps.logger.debug(
            { host: target.name, address, err: error },
            'connect failed; trying the next address',
          );
          last =
            error instanceof SessionError
              ? new SessionError(
                  error.code,
                  error.reply,
                  error.replyCode,
                  `${target.name}[${address}]:${target.port}: ${error.message}`,
                )
              : error;
        }
      }
    }
    throw last;
  }
}
