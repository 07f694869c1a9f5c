import type { Pool } from '@hermod/db';
import type { DomainConfigValue } from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import type { DkimSigningKey } from '../dkim/dkim-sign.js';
import type { SecureDnsQuery } from '../dns/dnssec-query.js';
import { DestinationError, type DnsResolver } from '../dns/resolve-destination.js';
import type { OutboundMetrics } from '../metrics.js';
import {
  type AttemptResult,
  type FinishDeps,
  finishAttempt,
  type MessageContext,
  wantsRelayedNotice,
} from '../queue/finish.js';
import { DeliveredBatcher } from '../queue/finish-delivered.js';
import { holdAfterLocalError } from '../queue/hold.js';
import { leaseDue, type QueueEntry, releaseLeases, renewLeases } from '../queue/lease.js';
import { type FinalResult, logFinal } from '../queue/record-final.js';
import { type TlsSessionResult, tlsPolicyDescription } from '../reports/tls-sessions.js';
import type { MtaStsCache } from '../tls/mta-sts.js';
import { DeliveryAttempt, decideFailure, type Failure, type Outcome, type Stage } from './attempt.js';
import type { ReplyClassifier } from './classify.js';
import { deliverMessage, type PreparedMessage, prepareMessage } from './deliver-message.js';
import { asDeliveryFailure, NetworkError, TlsError } from './errors.js';
import { hostPolicy, planRoute, type RoutePlan, type SessionMode, sessionModes } from './plan-route.js';
import { SmtpSession } from './smtp-session.js';

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
  greetingTimeoutMs: number;
  commandTimeoutMs: number;
  finalDotTimeoutMs: number;
  ca?: Buffer | undefined;
}

export interface DispatcherDeps {
  pool: Pool;
  logger: Logger;
  resolver: DnsResolver;
  domainConfig: (domain: string) => DomainConfigValue | undefined;
  dkimKey: (domain: string) => Promise<DkimSigningKey | undefined>;
  mtaSts: MtaStsCache;
  /** DANE (RFC 7672) through a validating resolver; off when undefined. */
  dane?: SecureDnsQuery | undefined;
  /** SMTP TLS Reporting (RFC 8460): every TLS session's outcome; none recorded when undefined. */
  tlsSessions?: { record(result: TlsSessionResult): void } | undefined;
  classify: ReplyClassifier;
  finish: FinishDeps;
  metrics: OutboundMetrics;
  settings: DispatcherSettings;
  now?: () => number;
}

interface Destination {
  key: string;
  domain: string;
  destination: Record<string, unknown> | null;
  pending: DeliveryAttempt[];
  active: number;
}

/** A caught value as a failure: DNS answers keep their class, anything else gets its kind. */
const asFailure = (error: unknown): Failure =>
  error instanceof DestinationError ? error : asDeliveryFailure(error);

/** Messages leased per session of a destination beyond the one on the wire (see tick). */
const PREFETCH_PER_SESSION = 4;

/**
 * The queue manager of one replica: leases due recipients from PostgreSQL, groups them per
 * destination, and runs up to `destinationConcurrency` connections per destination (and
 * `concurrency` in all), each delivering several messages in turn over one session.
 *
 * Every leased message at a destination is one DeliveryAttempt. An attempt leaves the pending
 * list of its destination only into a step whose `finally` concludes it (`conclude`: the one
 * exit, which records the outcome and then ends the attempt whatever recording does), or back
 * into the pending list; `stop` concludes whatever is still pending.
 */
export class Dispatcher {
  private readonly destinations = new Map<string, Destination>();
  /** Connections running. */
  private active = 0;
  /** Attempts leased by this replica that have not ended. */
  private readonly attempts = new Set<DeliveryAttempt>();
  /** Outcomes being recorded. */
  private readonly recording = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private again = false;
  private readonly idle: Array<() => void> = [];

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
    for (const d of this.destinations.values())
      for (const attempt of d.pending.splice(0)) this.conclude(attempt, { kind: 'none' });
    if (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    while (this.recording.size > 0) await Promise.all(this.recording);
    await releaseLeases(this.deps.pool, this.deps.settings.owner);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
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
    const budget = settings.concurrency * Math.min(settings.messagesPerConnection, 20) - this.attempts.size;
    if (budget <= 0) return;
    // Per domain, enough for each of its sessions to have the next messages at hand and no more:
    // the rest stays in the queue for the other replicas (and is leased here as sessions use it up).
    const perDomain = settings.destinationConcurrency * PREFETCH_PER_SESSION;
    const held = new Map<string, number>();
    for (const d of this.destinations.values())
      held.set(d.domain, (held.get(d.domain) ?? 0) + d.pending.length + d.active);
    const fullDomains = [...held].filter(([, n]) => n >= perDomain).map(([domain]) => domain);
    const leased = await leaseDue(
      this.deps.pool,
      settings.owner,
      { limit: Math.min(budget, 1_000), perDomain, fullDomains },
      settings.leaseMs,
    );
    if (leased.length === 0) return;
    const grouped = new Map<string, { dest: string; entries: QueueEntry[] }>();
    for (const entry of leased) {
      const dest = `${entry.domain}|${JSON.stringify(entry.destination?.relayHosts ?? [])}`;
      const key = `${entry.spoolId}|${dest}`;
      const existing = grouped.get(key);
      if (existing) existing.entries.push(entry);
      else grouped.set(key, { dest, entries: [entry] });
    }
    for (const { dest, entries } of grouped.values()) {
      const first = entries[0]!;
      let d = this.destinations.get(dest);
      if (!d) {
        d = { key: dest, domain: first.domain, destination: first.destination, pending: [], active: 0 };
        this.destinations.set(dest, d);
      }
      const attempt = new DeliveryAttempt(first.spoolId, entries, (a) => this.attempts.delete(a));
      this.attempts.add(attempt);
      d.pending.push(attempt);
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
        void this.runConnection(d)
          .catch((error: unknown) =>
            // Every attempt is concluded inside; this is a fault in the loop itself.
            this.deps.logger.error({ err: error, domain: d.domain }, 'delivery connection failed'),
          )
          .finally(() => {
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

  /**
   * One connection's turn at a destination. Every attempt it takes from the pending list is
   * concluded or put back by `deliver`; should the loop itself throw (a fault of ours, such as a
   * report that cannot be recorded), each attempt it took and did not put back is concluded here
   * with that failure (conclude does nothing for one already concluded), so none is left leased.
   */
  private async runConnection(d: Destination): Promise<void> {
    const taken: DeliveryAttempt[] = [];
    const take = (): DeliveryAttempt | undefined => {
      const attempt = d.pending.shift();
      if (attempt) taken.push(attempt);
      return attempt;
    };
    try {
      await this.deliver(d, take);
    } catch (error) {
      const failure = asFailure(error);
      for (const attempt of taken)
        if (!d.pending.includes(attempt))
          this.conclude(attempt, { kind: 'failure', failure, stage: 'connect' });
      throw error;
    }
  }

  /** One session to the destination, delivering pending attempts in turn until it breaks or has sent enough. */
  private async deliver(d: Destination, take: () => DeliveryAttempt | undefined): Promise<void> {
    const first = take();
    if (!first) return;
    let plan: RoutePlan;
    // RFC 8689 `TLS-Required: No` is a property of the message: such a session carries only it.
    // A failure to load is left to deliverOne, which reports it.
    const ignoreTlsPolicy = (await this.prepare(first).catch(() => undefined))?.ignoreTlsPolicy ?? false;
    try {
      plan = await planRoute({
        domain: d.domain,
        destination: d.destination,
        config: this.deps.domainConfig(d.domain),
        resolver: this.deps.resolver,
        mtaSts: this.deps.mtaSts,
        smtpPort: this.deps.settings.smtpPort,
        ignoreTlsPolicy,
        dane: this.deps.dane,
      });
    } catch (error) {
      if (error instanceof DestinationError && error.code === 'DANE_LOOKUP')
        this.reportDaneLookupFailures(d.domain, error.hosts);
      this.failAll(d, first, { failure: asFailure(error), stage: 'route' });
      return;
    }
    this.reportDaneLookupFailures(d.domain, plan.daneLookupFailed ?? []);
    const connected = await this.connect(plan, first, d.domain);
    if ('failure' in connected) {
      this.failAll(d, first, { ...connected, stage: 'connect', plan });
      return;
    }
    const { session, host, policy } = connected;
    // Taken from the pending list but not yet handed to deliverOne (which always concludes).
    let next: DeliveryAttempt | undefined;
    try {
      let attempt: DeliveryAttempt | undefined = first;
      let sent = 0;
      while (attempt) {
        this.prepare(attempt);
        sent++;
        next =
          sent >= this.deps.settings.messagesPerConnection || this.stopped || ignoreTlsPolicy
            ? undefined
            : take();
        // Running low: lease more for this destination while this message is on the wire.
        if (d.pending.length < d.active) this.wake();
        // The next message is read from the spool while this one is on the wire.
        if (next) this.prepare(next);
        const usable = await this.deliverOne(session, attempt, host, plan, policy);
        if (!usable || !session.usable) break;
        attempt = next;
        next = undefined;
      }
    } finally {
      // Not sent on this session: for the next connection, or over when the dispatcher stops.
      if (next && this.stopped) this.conclude(next, { kind: 'none' });
      else if (next) d.pending.unshift(next);
      session.close();
    }
  }

  /** RFC 8460: MX hosts left out because their DANE lookups failed (bogus, or no answer). */
  private reportDaneLookupFailures(domain: string, hosts: string[]): void {
    for (const host of hosts)
      this.deps.tlsSessions?.record({
        policyDomain: domain,
        policy: tlsPolicyDescription('lookup-failed', undefined),
        resultType: 'dnssec-invalid',
        receivingMxHostname: host,
      });
  }

  private prepare(attempt: DeliveryAttempt): Promise<PreparedMessage | undefined> {
    return attempt.prepare(() => prepareMessage(this.deps.pool, attempt.entries, this.deps.dkimKey));
  }

  /**
   * One transaction on the session. The attempt is concluded whatever happens (its bookkeeping
   * runs in the background, so the session goes on to the next message at once). Returns false
   * when the session must not be used again.
   */
  private async deliverOne(
    session: SmtpSession,
    attempt: DeliveryAttempt,
    host: string,
    plan: RoutePlan,
    policy: string | undefined,
  ): Promise<boolean> {
    const started = this.now();
    let outcome: Outcome = { kind: 'none' };
    let stage: Stage = 'prepare';
    try {
      const prepared = await this.prepare(attempt);
      if (!prepared) return true; // deleted meanwhile: its queue rows went with it
      stage = 'transaction';
      const results = await deliverMessage(session, prepared, attempt.entries, this.deps.classify, host);
      if (policy) for (const r of results) r.tls = `${r.tls ?? 'none'} (${policy})`;
      outcome = { kind: 'results', results, context: prepared.context };
      return true;
    } catch (error) {
      outcome = { kind: 'failure', failure: asFailure(error), stage, plan, host };
      // A failure before the transaction leaves the session as it was.
      return stage === 'prepare';
    } finally {
      this.conclude(attempt, outcome, started);
    }
  }

  /** Concludes `first` and everything else pending for this destination with one failure. */
  private failAll(
    d: Destination,
    first: DeliveryAttempt,
    failure: { failure: Failure; stage: Stage; plan?: RoutePlan; host?: string | undefined },
  ): void {
    const attempts = [first, ...d.pending.splice(0)];
    const started = this.now();
    for (const attempt of attempts) this.conclude(attempt, { kind: 'failure', ...failure }, started);
    this.deps.logger.info(
      { domain: d.domain, messages: attempts.length, reason: failure.failure.message, stage: failure.stage },
      'destination unavailable',
    );
  }

  /**
   * The one exit of an attempt: records its outcome in the background and then ends it, whatever
   * recording does (database trouble leaves the recipients to their lease).
   */
  private conclude(attempt: DeliveryAttempt, outcome: Outcome, started = this.now()): void {
    if (!attempt.markConcluded()) return;
    const recording = (async () => {
      try {
        await this.record(attempt, outcome, started);
      } catch (error) {
        this.deps.logger.error({ err: error, spoolId: attempt.spoolId }, 'delivery bookkeeping failed');
      } finally {
        attempt.end();
      }
    })();
    this.recording.add(recording);
    void recording.finally(() => this.recording.delete(recording));
  }

  private async record(attempt: DeliveryAttempt, outcome: Outcome, started: number): Promise<void> {
    if (outcome.kind === 'none') return;
    if (outcome.kind === 'results') {
      await this.finish(outcome.results, outcome.context, started);
      return;
    }
    const { failure, stage, plan, host } = outcome;
    const decision = decideFailure(failure, stage, plan, host);
    if (decision.action === 'lease') {
      this.deps.logger.warn(
        { err: failure, spoolId: attempt.spoolId, stage },
        'attempt left to its lease (our own store failed)',
      );
      return;
    }
    if (decision.action === 'hold') {
      // Loud: a fault of ours, the recipients wait for an operator instead of being retried blindly.
      this.deps.metrics.localErrors.inc({ stage });
      this.deps.logger.error(
        { err: failure, spoolId: attempt.spoolId, stage, host, recipients: attempt.entries.length },
        'local error: recipients held',
      );
      await holdAfterLocalError(
        this.deps.pool,
        attempt.spoolId,
        attempt.entries.map((e) => e.rcptIndex),
        decision.reason,
        host,
      );
      this.deps.metrics.results.inc({ result: 'held' }, attempt.entries.length);
      return;
    }
    const context = await this.context(attempt);
    if (!context) return; // deleted meanwhile
    const results = attempt.entries.map((entry) => ({
      entry,
      kind: decision.kind,
      status: decision.status,
      reply: decision.reply,
      ...(host ? { host } : {}),
    }));
    await this.finish(results, context, started);
  }

  /** The message's context for notices: from the prepared message, else loaded without signing. */
  private async context(attempt: DeliveryAttempt): Promise<MessageContext | undefined> {
    const prepared = await attempt.preparing?.catch(() => undefined);
    if (prepared) return prepared.context;
    return (await prepareMessage(this.deps.pool, attempt.entries, async () => undefined))?.context;
  }

  private async renewLeases(): Promise<void> {
    if (this.attempts.size === 0) return;
    const { pool, settings } = this.deps;
    const spoolIds = [...new Set([...this.attempts].map((a) => a.spoolId))];
    await renewLeases(pool, settings.owner, spoolIds, settings.leaseMs).catch((error: unknown) =>
      this.deps.logger.warn({ err: error }, 'renewing leases failed'),
    );
  }

  private async finish(results: AttemptResult[], context: MessageContext, started: number): Promise<void> {
    let recorded = results;
    // Every recipient accepted and no notice asked for (the usual case): group-committed with
    // other such outcomes.
    const delivered = results.filter((r): r is FinalResult => r.kind === 'delivered');
    if (
      delivered.length > 0 &&
      delivered.length === results.length &&
      !delivered.some((r) => wantsRelayedNotice(r, context))
    ) {
      await this.delivered.record({ spoolId: context.spoolId, results: delivered });
      for (const r of delivered) logFinal(this.deps.logger, context.spoolId, r);
    } else recorded = await finishAttempt(this.deps.finish, context, results);
    const now = this.now();
    for (const r of recorded) {
      this.deps.metrics.results.inc({ result: r.kind });
      if (r.kind === 'delivered')
        this.deps.metrics.deliveryLatency.observe((now - r.entry.queuedAt.getTime()) / 1000);
    }
    this.deps.metrics.attemptDuration.observe((now - started) / 1000);
  }

  /**
   * Every address of a host before the next host; the first session that opens wins. A local
   * fault stops at once (another host would not help); otherwise the last failure is returned.
   */
  private async connect(
    plan: RoutePlan,
    first: DeliveryAttempt,
    domain: string,
  ): Promise<
    | { session: SmtpSession; host: string; policy: string | undefined }
    | { failure: Failure; host: string | undefined }
  > {
    let last: { failure: Failure; host: string | undefined } = {
      failure: new NetworkError('no host to try'),
      host: undefined,
    };
    for (const target of plan.hosts) {
      for (const address of target.addresses) {
        const host = `${target.name}[${address}]:${target.port}`;
        const dane =
          target.dane?.kind === 'dane'
            ? { records: target.dane.records, tlsaName: target.dane.tlsaName }
            : target.dane?.kind === 'unusable'
              ? ('unusable' as const)
              : undefined;
        const report = (resultType?: string) =>
          this.deps.tlsSessions?.record({
            policyDomain: domain,
            policy: tlsPolicyDescription(dane === 'unusable' ? dane : dane?.records, plan.sts),
            resultType,
            ...(resultType ? { receivingMxHostname: target.name, receivingIp: address } : {}),
          });
        const open = (mode: SessionMode) =>
          SmtpSession.open({
            host: target.name,
            address,
            port: target.port,
            heloName: this.deps.settings.heloName,
            requireTls: plan.requireTls || target.requireTls,
            verifyTls: mode.verifyTls,
            plaintext: mode.plaintext,
            ca: this.deps.settings.ca,
            dane,
            connectTimeoutMs: this.deps.settings.connectTimeoutMs,
            greetingTimeoutMs: this.deps.settings.greetingTimeoutMs,
            commandTimeoutMs: this.deps.settings.commandTimeoutMs,
            finalDotTimeoutMs: this.deps.settings.finalDotTimeoutMs,
          });
        // One session counts once for TLS reports: its failure, or its success when none failed.
        let tlsFailed = false;
        for (const mode of sessionModes(plan, target)) {
          try {
            const session = await open(mode);
            if (!tlsFailed && session.tlsOutcome !== 'none') report();
            else if (!tlsFailed && mode.verifyTls) report('starttls-not-supported'); // testing mode
            if (tlsFailed)
              this.deps.logger.info(
                { host, tls: session.tlsOutcome, reason: last.failure.message, spoolId: first.spoolId },
                'TLS failed where no policy requires it; delivering with less (RFC 7435, RFC 8461 testing)',
              );
            return { session, host, policy: hostPolicy(plan, target) };
          } catch (error) {
            const failure = asFailure(error);
            this.deps.logger.debug(
              { host, err: failure, code: failure.code, spoolId: first.spoolId },
              'connect failed',
            );
            last = { failure, host };
            if (failure.code === 'LOCAL') return last;
            if (!(failure instanceof TlsError)) break; // the next address
            if (!tlsFailed) report(failure.resultType ?? 'validation-failure');
            tlsFailed = true;
          }
        }
      }
    }
    return last;
  }
}
