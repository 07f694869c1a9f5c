import { domainOfAddress } from '@hermod/address';
import { watchDomainStatus } from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import type { KV } from 'nats';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from './api/v1alpha1/maildomain.js';
import { GROUP_PLURAL, USER_PLURAL } from './api/v1alpha1/mailuser.js';
import { Controller, type Reconciler } from './controller/controller.js';
import type { DkimAlgorithm, GeneratedKey } from './controller/dkim.js';
import { DnsEndpointWriter } from './controller/dns-endpoints.js';
import type { DnsLookup } from './controller/dns-records.js';
import { domainHealth } from './controller/health.js';
import { MANAGED_BY, MANAGED_BY_LABEL, MailDomainReconciler } from './controller/maildomain-reconciler.js';
import { MailGroupReconciler } from './controller/mailgroup-reconciler.js';
import { type AccountsPort, MailUserReconciler } from './controller/mailuser-reconciler.js';
import { needsReconcile } from './controller/owned-resource.js';
import { EventRecorder } from './kube/events.js';
import { Informer, type KubeObject, objectKey } from './kube/informer.js';
import type { KubeClient } from './kube/kube-client.js';
import { LeaderElector } from './kube/leader-election.js';
import { TokenBucket } from './kube/token-bucket.js';
import { WorkQueue } from './kube/workqueue.js';
import type { OperatorMetrics } from './metrics.js';

export const FIELD_MANAGER = 'hermod-operator';
export const CONTROLLER_NAME = 'maildomain';

export interface OperatorOptions {
  client: KubeClient;
  buckets: { domains: KV; dkimKeys: KV; domainStatus: KV };
  logger: Logger;
  metrics: OperatorMetrics;
  /** Only this namespace (Role-scoped install); undefined: all namespaces. */
  watchNamespace?: string | undefined;
  identity: string;
  /** undefined: no leader election (single replica). */
  leaderElection?:
    | {
        namespace: string;
        name: string;
        leaseDurationMs?: number;
        renewDeadlineMs?: number;
        retryPeriodMs?: number;
      }
    | undefined;
  workers: number;
  /** Concurrent MailUser and MailGroup reconciles (each mostly waits on the API server and PostgreSQL); default workers. */
  accountWorkers?: number;
  /** Event budget of the account controllers (default 10/s, burst 100); Events over it are dropped and counted. */
  accountEvents?: { perSecond: number; burst: number };
  resyncMs: number;
  maxBackoffMs: number;
  dns: DnsLookup | undefined;
  dnsRecheckMs: number;
  /** Default 5 s. */
  keyMinIntervalMs?: number;
  defaultMxHosts: string[];
  /** Target of the autoconfig./autodiscover.<domain> CNAMEs listed in status; unset: not listed. */
  autoconfigTarget?: string | undefined;
  /** TTL of the records in the DNSEndpoints written for spec.dns.provider externalDNS (default 300 s). */
  dnsEndpointTtlSeconds?: number;
  generateKey: (algorithm: DkimAlgorithm) => Promise<GeneratedKey>;
  clock?: () => Date;
  /** Called when this replica stops leading while the operator is still running (it campaigns again). */
  onLostLeadership?: () => void;
  informerTiming?: { relistIntervalMs?: number; watchTimeoutSeconds?: number };
  /** The accounts store: with it, MailUser and MailGroup are reconciled too. */
  accounts?: AccountsPort | undefined;
  /** How often a MailUser's usage in status is refreshed (default 5 min). */
  usageRefreshMs?: number;
}

/** The MailUser and MailGroup controllers (with an accounts store). */
interface AccountControllers {
  mailUsers: Informer;
  mailGroups: Informer;
  /** Every Secret of the watched namespaces: the password Secrets MailUsers reference. */
  userSecrets: Informer;
  users: Reconciler;
  groups: Reconciler;
  userQueue?: WorkQueue | undefined;
  groupQueue?: WorkQueue | undefined;
}

/**
 * The running operator: informers (on every replica, so a standby is warm), and on the leader the
 * work queue and reconcile workers. Built by main.ts, and in-process by tests.
 */
export class Operator {
  readonly mailDomains: Informer;
  readonly secrets: Informer;
  readonly reconciler: MailDomainReconciler;
  private readonly dnsEndpoints: DnsEndpointWriter;
  private queue: WorkQueue | undefined;
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;
  private elector: LeaderElector | undefined;
  private statusWatch: { stop(): void } | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  readonly accountControllers: AccountControllers | undefined;

  constructor(private readonly o: OperatorOptions) {
    const ns = o.watchNamespace;
    const scope = ns ? `/namespaces/${ns}` : '';
    const timing = o.informerTiming ?? {};
    this.mailDomains = new Informer({
      client: o.client,
      path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`,
      kind: KIND,
      apiVersion: API_VERSION,
      logger: o.logger.child({ informer: PLURAL }),
      ...timing,
      onRelist: (reason) => o.metrics.relists.inc({ resource: PLURAL, reason }),
      onWatchRestart: (reason) => o.metrics.watchRestarts.inc({ resource: PLURAL, reason }),
    });
    this.secrets = new Informer({
      client: o.client,
      path: `/api/v1${scope}/secrets`,
      kind: 'Secret',
      apiVersion: 'v1',
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      logger: o.logger.child({ informer: 'secrets' }),
      ...timing,
      onRelist: (reason) => o.metrics.relists.inc({ resource: 'secrets', reason }),
      onWatchRestart: (reason) => o.metrics.watchRestarts.inc({ resource: 'secrets', reason }),
    });
    this.dnsEndpoints = new DnsEndpointWriter({
      client: o.client,
      fieldManager: FIELD_MANAGER,
      logger: o.logger,
      ttlSeconds: o.dnsEndpointTtlSeconds ?? 300,
    });
    this.reconciler = new MailDomainReconciler({
      client: o.client,
      mailDomains: this.mailDomains,
      secrets: this.secrets,
      buckets: o.buckets,
      events: new EventRecorder(o.client, FIELD_MANAGER, o.identity, o.logger),
      dns: o.dns,
      clock: o.clock ?? (() => new Date()),
      generateKey: o.generateKey,
      logger: o.logger,
      metrics: o.metrics,
      fieldManager: FIELD_MANAGER,
      defaultMxHosts: o.defaultMxHosts,
      autoconfigTarget: o.autoconfigTarget,
      dnsEndpoints: this.dnsEndpoints,
      dnsRecheckMs: o.dnsRecheckMs,
      keyMinIntervalMs: o.keyMinIntervalMs ?? 5_000,
    });
    o.metrics.setDomainHealthSource(() => domainHealth(this.mailDomains.list()));
    this.accountControllers = o.accounts ? this.accountControllersOf(o.accounts, scope) : undefined;
    this.mailDomains.onChange((key, current, previous) => {
      this.enqueue(key);
      // Others naming the same domain may win or lose it now (conflicts resolve by age).
      for (const domain of new Set([domainOf(current), domainOf(previous)])) {
        if (domain) for (const other of this.keysForDomain(domain)) if (other !== key) this.enqueue(other);
      }
    });
    this.secrets.onChange((_key, current, previous) => {
      const object = current ?? previous;
      const owner = object?.metadata.ownerReferences?.find(
        (r) => r.kind === KIND && r.apiVersion.startsWith(`${GROUP}/`),
      );
      if (object && owner) this.enqueue(`${object.metadata.namespace ?? 'default'}/${owner.name}`);
    });
  }

  private accountControllersOf(accounts: AccountsPort, scope: string): AccountControllers {
    const o = this.o;
    const timing = o.informerTiming ?? {};
    const informer = (plural: string, kind: string, apiVersion: string, path: string) =>
      new Informer({
        client: o.client,
        path,
        kind,
        apiVersion,
        logger: o.logger.child({ informer: plural }),
        ...timing,
        onRelist: (reason) => o.metrics.relists.inc({ resource: plural, reason }),
        onWatchRestart: (reason) => o.metrics.watchRestarts.inc({ resource: plural, reason }),
      });
    const mailUsers = informer(
      USER_PLURAL,
      'MailUser',
      API_VERSION,
      `/apis/${GROUP}/${VERSION}${scope}/${USER_PLURAL}`,
    );
    const mailGroups = informer(
      GROUP_PLURAL,
      'MailGroup',
      API_VERSION,
      `/apis/${GROUP}/${VERSION}${scope}/${GROUP_PLURAL}`,
    );
    const userSecrets = informer('user-secrets', 'Secret', 'v1', `/api/v1${scope}/secrets`);
    const context = {
      client: o.client,
      events: new EventRecorder(o.client, FIELD_MANAGER, o.identity, o.logger, {
        bucket: new TokenBucket(o.accountEvents?.perSecond ?? 10, o.accountEvents?.burst ?? 100),
        onDropped: (reason) => o.metrics.eventsDropped.inc({ reason }),
      }),
      fieldManager: FIELD_MANAGER,
      clock: o.clock ?? (() => new Date()),
    };
    const controllers: AccountControllers = {
      mailUsers,
      mailGroups,
      userSecrets,
      users: new MailUserReconciler({
        ...context,
        mailUsers,
        mailDomains: this.mailDomains,
        secrets: userSecrets,
        accounts,
        logger: o.logger,
        usageRefreshMs: o.usageRefreshMs ?? 5 * 60_000,
      }),
      groups: new MailGroupReconciler({ ...context, mailGroups, mailDomains: this.mailDomains, accounts }),
    };
    const addressDomain = (object: KubeObject | undefined) => {
      const address = (object?.spec as { address?: unknown } | undefined)?.address;
      return typeof address === 'string' ? domainOfAddress(address) : undefined;
    };
    mailUsers.onChange((key, current, previous) => {
      if (needsReconcile(current, previous)) controllers.userQueue?.add(key);
    });
    mailGroups.onChange((key, current, previous) => {
      if (needsReconcile(current, previous)) controllers.groupQueue?.add(key);
    });
    // A domain turning Ready (or not) moves the users and groups of that domain.
    this.mailDomains.onChange((_key, current, previous) => {
      const domains = new Set([domainOf(current), domainOf(previous)]);
      for (const u of mailUsers.list())
        if (domains.has(addressDomain(u))) controllers.userQueue?.add(objectKey(u));
      for (const g of mailGroups.list())
        if (domains.has(addressDomain(g))) controllers.groupQueue?.add(objectKey(g));
    });
    // A password Secret appearing or changing moves the users that reference it.
    userSecrets.onChange((_key, current, previous) => {
      const secret = current ?? previous;
      if (!secret) return;
      for (const u of mailUsers.list()) {
        const ref = (u.spec as { password?: { secretRef?: { name?: string } } } | undefined)?.password
          ?.secretRef;
        if (u.metadata.namespace === secret.metadata.namespace && ref?.name === secret.metadata.name)
          controllers.userQueue?.add(objectKey(u));
      }
    });
    return controllers;
  }

  private informers(): Informer[] {
    const a = this.accountControllers;
    return [this.mailDomains, this.secrets, ...(a ? [a.mailUsers, a.mailGroups, a.userSecrets] : [])];
  }

  get isLeader(): boolean {
    return this.o.leaderElection ? (this.elector?.isLeader ?? false) : this.queue !== undefined;
  }

  get synced(): boolean {
    return this.informers().every((i) => i.hasSynced);
  }

  get queueDepth(): number {
    return this.queue?.depth ?? 0;
  }

  private enqueue(key: string): void {
    this.queue?.add(key);
  }

  keysForDomain(domain: string): string[] {
    return this.mailDomains
      .list()
      .filter((o) => domainOf(o) === domain)
      .map((o) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
  }

  start(): void {
    this.running ??= this.run();
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    for (const informer of this.informers()) informer.start();
    const lead = async (signal: AbortSignal) => {
      this.o.metrics.leader.set(1);
      try {
        await this.lead(signal);
      } finally {
        this.o.metrics.leader.set(0);
      }
      if (!stop.aborted) this.o.onLostLeadership?.();
    };
    if (this.o.leaderElection) {
      this.elector = new LeaderElector({
        client: this.o.client,
        identity: this.o.identity,
        logger: this.o.logger.child({ component: 'leader-election' }),
        fieldManager: FIELD_MANAGER,
        ...this.o.leaderElection,
      });
      // A replica that lost the lease (say the API server was away longer than renewDeadline)
      // campaigns again; its informers stay warm meanwhile.
      while (!stop.aborted) await this.elector.run(lead, stop);
    } else {
      await lead(stop);
    }
  }

  private async lead(signal: AbortSignal): Promise<void> {
    // Another leader may have written or deleted DNSEndpoints since this process last led.
    this.dnsEndpoints.forget();
    await Promise.all(this.informers().map((i) => i.waitForSync()));
    if (signal.aborted) return;
    const queue = new WorkQueue({
      maxDelayMs: this.o.maxBackoffMs,
      onDepth: (depth) => this.o.metrics.queueDepth.set({ controller: CONTROLLER_NAME }, depth),
    });
    this.queue = queue;
    for (const key of this.mailDomains.keys()) queue.add(key);
    this.statusWatch = watchDomainStatus(
      this.o.buckets.domainStatus,
      (domain) => {
        for (const key of this.keysForDomain(domain)) this.enqueue(key);
      },
      this.o.logger,
    );
    // Periodic resync: converge even what no event pointed at (edits to the buckets by hand).
    this.resyncTimer = setInterval(() => {
      for (const key of this.mailDomains.keys()) this.enqueue(key);
      const accounts = this.accountControllers;
      if (accounts) for (const key of accounts.mailGroups.keys()) accounts.groupQueue?.add(key);
    }, this.o.resyncMs);
    this.resyncTimer.unref();
    const controller = new Controller({
      name: CONTROLLER_NAME,
      queue,
      reconciler: this.reconciler,
      workers: this.o.workers,
      logger: this.o.logger.child({ controller: CONTROLLER_NAME }),
      metrics: this.o.metrics,
    });
    const runs = [controller.run(signal)];
    const accounts = this.accountControllers;
    if (accounts) {
      const second = (name: string, informer: Informer, reconciler: Reconciler) => {
        const q = new WorkQueue({
          maxDelayMs: this.o.maxBackoffMs,
          onDepth: (depth) => this.o.metrics.queueDepth.set({ controller: name }, depth),
        });
        for (const key of informer.keys()) q.add(key);
        runs.push(
          new Controller({
            name,
            queue: q,
            reconciler,
            workers: this.o.accountWorkers ?? this.o.workers,
            logger: this.o.logger.child({ controller: name }),
            metrics: this.o.metrics,
          }).run(signal),
        );
        return q;
      };
      accounts.userQueue = second('mailuser', accounts.mailUsers, accounts.users);
      accounts.groupQueue = second('mailgroup', accounts.mailGroups, accounts.groups);
    }
    try {
      await Promise.all(runs);
    } finally {
      clearInterval(this.resyncTimer);
      this.statusWatch.stop();
      this.queue = undefined;
      if (accounts) {
        accounts.userQueue = undefined;
        accounts.groupQueue = undefined;
      }
    }
  }

  /** Stops reconciling (in-flight reconciles finish), releases the lease, stops the informers. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
    await Promise.all(this.informers().map((i) => i.stop()));
  }
}

function domainOf(object: KubeObject | undefined): string | undefined {
  const spec = object?.spec as { domain?: unknown } | undefined;
  return typeof spec?.domain === 'string' ? spec.domain : undefined;
}
