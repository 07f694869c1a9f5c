// What the MailUser and MailGroup reconcilers share: the lifecycle (finalizer, cleanup on
// deletion, waiting for the domain, refusals as conditions), status written by server-side apply
// only when it differs, conditions, Events on transitions, and whether a domain is Ready.
import { AccountError } from '@hermod/accounts';
import { domainOfAddress } from '@hermod/address';
import type { z } from 'zod';
import { GROUP, type ObjectMeta, VERSION } from '../api/v1alpha1/maildomain.js';
import { type ConditionLike, conditionOf, mergeConditions } from '../kube/conditions.js';
import { KubeApiError, TerminalReconcileError } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { Informer, KubeObject } from '../kube/informer.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { ReconcileResult, Reconciler } from './controller.js';

/** The finalizer of accounts and groups: the store is cleaned up before the resource goes. */
export const ACCOUNT_FINALIZER = 'mail.hermod.dev/accounts';
/** On a MailUser or MailGroup: take over an account or group the CLI created. */
export const ADOPT_ANNOTATION = 'mail.hermod.dev/adopt';

export interface OwnedObject {
  metadata: ObjectMeta;
  status?: { conditions?: ConditionLike[] | undefined; observedGeneration?: number | undefined } | undefined;
}

export interface ResourceContext {
  client: KubeClient;
  events: EventRecorder;
  fieldManager: string;
  clock: () => Date;
}

export const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );

/**
 * Whether a change of an owned resource (what its informer reports) needs a reconcile. Not for a
 * status-only update nor for our own finalizer arriving: the reconcile that wrote them has gone on,
 * and reconciling on them did every new resource three times over (three passes through the
 * accounts store). A spec change (generation), a deletion, an annotation (adopt), a lost
 * finalizer, creation and removal do. Drift in status alone is corrected at the next periodic pass.
 */
export function needsReconcile(current: KubeObject | undefined, previous: KubeObject | undefined): boolean {
  if (!current || !previous) return true;
  const now = current.metadata;
  const before = previous.metadata;
  if (now.generation !== before.generation || now.deletionTimestamp !== before.deletionTimestamp) return true;
  if (stableJson(now.annotations ?? {}) !== stableJson(before.annotations ?? {})) return true;
  const finalizers = now.finalizers as string[] | undefined;
  return !now.deletionTimestamp && !finalizers?.includes(ACCOUNT_FINALIZER);
}

/** Conflicts may be resolved outside (the CLI removes an account): look again this often. */
export const CONFLICT_RECHECK_MS = 30_000;

type ConditionPart = Omit<ConditionLike, 'lastTransitionTime' | 'observedGeneration'>;

/** What one sync of an owned resource into the accounts store came to. */
export type SyncOutcome =
  /** Cannot be written yet (a missing Secret): the synced condition says why. */
  | { synced: false; reason: string; message: string }
  | {
      synced: true;
      message: string;
      /** Status fields besides conditions. */
      status: Record<string, unknown>;
      /** false: an Event of the sync already says it (AccountCreated): no Ready Event too. */
      announceReady: boolean;
      requeueAfterMs?: number;
    };

/** One kind of owned resource (MailUser, MailGroup): its paths, finalizer, status and Event target. */
export class ResourceKind {
  constructor(
    readonly kind: string,
    readonly plural: string,
    private readonly ctx: ResourceContext,
  ) {}

  path(namespace: string, name: string): string {
    return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${this.plural}/${name}`;
  }

  /** The store's name for the owner: 'MailUser <namespace>/<name>' (the CLI's error quotes it). */
  owner(o: OwnedObject): string {
    return `${this.kind} ${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
  }

  event(o: OwnedObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.ctx.events.record(
      { apiVersion: `${GROUP}/${VERSION}`, kind: this.kind, metadata: { ...o.metadata } },
      type,
      reason,
      message,
    );
  }

  async addFinalizer(o: OwnedObject): Promise<void> {
    if (o.metadata.finalizers?.includes(ACCOUNT_FINALIZER)) return;
    await this.ctx.client.jsonPatch(
      this.path(o.metadata.namespace ?? 'default', o.metadata.name),
      [
        { op: 'test', path: '/metadata/resourceVersion', value: o.metadata.resourceVersion },
        o.metadata.finalizers
          ? { op: 'add', path: '/metadata/finalizers/-', value: ACCOUNT_FINALIZER }
          : { op: 'add', path: '/metadata/finalizers', value: [ACCOUNT_FINALIZER] },
      ],
      this.ctx.fieldManager,
    );
  }

  async removeFinalizer(o: OwnedObject): Promise<void> {
    const index = o.metadata.finalizers?.indexOf(ACCOUNT_FINALIZER) ?? -1;
    if (index < 0) return;
    try {
      await this.ctx.client.jsonPatch(
        this.path(o.metadata.namespace ?? 'default', o.metadata.name),
        [
          { op: 'test', path: `/metadata/finalizers/${index}`, value: ACCOUNT_FINALIZER },
          { op: 'remove', path: `/metadata/finalizers/${index}` },
        ],
        this.ctx.fieldManager,
      );
    } catch (error) {
      if (!(error instanceof KubeApiError && error.notFound)) throw error;
    }
  }

  /**
   * Writes status (server-side apply) with Ready derived from the other conditions, when it differs
   * from what the object shows; a Warning Event when Ready turns False for a new reason, a Normal
   * one when it turns True.
   */
  async writeStatus(
    o: OwnedObject,
    parts: ConditionPart[],
    extra: Record<string, unknown>,
    /** false: an Event of the reconcile already says it (AccountCreated): no Ready Event too. */
    announceReady = true,
  ): Promise<void> {
    const generation = o.metadata.generation ?? 0;
    const failing = parts.find((p) => p.status !== 'True');
    const ready = failing
      ? { type: 'Ready', status: 'False' as const, reason: failing.reason, message: failing.message }
      : { type: 'Ready', status: 'True' as const, reason: 'Ready', message: 'in the accounts store' };
    const existing = o.status?.conditions;
    const conditions = mergeConditions(
      existing,
      [ready, ...parts].map((c) => ({ ...c, observedGeneration: generation })),
      this.ctx.clock(),
    );
    const status = {
      ...extra,
      conditions,
      // The generation converged: only when everything is; else where it was.
      ...(failing
        ? o.status?.observedGeneration !== undefined
          ? { observedGeneration: o.status.observedGeneration }
          : {}
        : { observedGeneration: generation }),
    };
    if (stableJson(status) === stableJson(o.status ?? {})) return;
    const ns = o.metadata.namespace ?? 'default';
    await this.ctx.client.apply(
      `${this.path(ns, o.metadata.name)}/status`,
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: this.kind,
        metadata: { name: o.metadata.name, namespace: ns },
        status,
      },
      this.ctx.fieldManager,
    );
    const before = conditionOf(existing, 'Ready');
    if (ready.status === 'False' && before?.reason !== ready.reason)
      await this.event(o, 'Warning', ready.reason, ready.message);
    if (announceReady && ready.status === 'True' && before?.status !== 'True')
      await this.event(o, 'Normal', 'Ready', `${this.owner(o)} is in the accounts store`);
  }
}

/**
 * The object of key from an informer's cache, parsed with its schema; undefined when it is gone. A
 * spec the API server accepted but the schema refuses is terminal (no retry until it changes).
 */
export function cachedResource<T>(informer: Informer, key: string, schema: z.ZodType<T>): T | undefined {
  const raw = informer.get(key);
  if (!raw) return undefined;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new TerminalReconcileError('InvalidSpec', `${key}: ${detail}`);
}

/** DomainReady: whether a MailDomain serving the address's domain is Ready. */
export function domainCondition(mailDomains: Informer, address: string): ConditionPart {
  const domain = domainOfAddress(address);
  const candidates = mailDomains
    .list()
    .filter(
      (o) => (o.spec as { domain?: string } | undefined)?.domain === domain && !o.metadata.deletionTimestamp,
    );
  const ready = candidates.some(
    (o) =>
      conditionOf((o.status as { conditions?: ConditionLike[] } | undefined)?.conditions, 'Ready')?.status ===
      'True',
  );
  if (ready)
    return {
      type: 'DomainReady',
      status: 'True',
      reason: 'DomainReady',
      message: `MailDomain for ${domain} is Ready`,
    };
  return {
    type: 'DomainReady',
    status: 'False',
    reason: candidates.length ? 'DomainNotReady' : 'DomainNotFound',
    message: candidates.length
      ? `the MailDomain for ${domain} is not Ready`
      : `no MailDomain serves ${domain}; create one (the account is written once it is Ready)`,
  };
}

/** The condition reason for an accounts-store refusal (a spec or a conflict to fix, not a crash). */
export function refusalReason(error: AccountError): string {
  switch (error.code) {
    case 'managed':
    case 'exists':
      return 'Conflict';
    case 'weak-password':
      return 'WeakPassword';
    default:
      return 'InvalidSpec';
  }
}

export const isRefusal = (error: unknown): error is AccountError => error instanceof AccountError;

/**
 * A reconciler of owned resources (MailUser, MailGroup): reconcile(namespace/name) takes the object
 * from the cache and runs the lifecycle they share; a subclass says only what differs.
 */
export abstract class OwnedResourceReconciler<T extends OwnedObject & { spec: { address: string } }>
  implements Reconciler
{
  protected readonly kind: ResourceKind;

  constructor(
    kind: string,
    plural: string,
    ctx: ResourceContext,
    private readonly resources: Informer,
    private readonly schema: z.ZodType<T>,
    private readonly mailDomains: Informer,
  ) {
    this.kind = new ResourceKind(kind, plural, ctx);
  }

  /** The condition the sync reports under: AccountSynced, GroupSynced. */
  protected abstract readonly syncedType: string;
  /** Status fields other than conditions written while the resource does not sync. */
  protected abstract keptStatus(o: T): Record<string, unknown>;
  /** Deleted: removes (or keeps, by policy) what the resource made in the store. */
  protected abstract release(o: T, owner: string): Promise<void>;
  /** Writes the resource into the store; an AccountError is a refusal reported as a condition. */
  protected abstract sync(o: T, owner: string): Promise<SyncOutcome>;

  async reconcile(key: string): Promise<ReconcileResult> {
    const o = cachedResource(this.resources, key, this.schema);
    return o ? this.converge(o) : {};
  }

  /**
   * The lifecycle of one owned resource, level-based: deleted, release then drop the finalizer;
   * else finalizer first, then (once its domain has a Ready MailDomain) the sync, then status.
   */
  private async converge(o: T): Promise<ReconcileResult> {
    const kind = this.kind;
    const owner = kind.owner(o);
    if (o.metadata.deletionTimestamp) {
      if (!o.metadata.finalizers?.includes(ACCOUNT_FINALIZER)) return {};
      await this.release(o, owner);
      await kind.removeFinalizer(o);
      return {};
    }
    await kind.addFinalizer(o);
    const domain = domainCondition(this.mailDomains, o.spec.address);
    const notSynced = (reason: string, message: string) =>
      kind.writeStatus(
        o,
        [domain, { type: this.syncedType, status: 'False', reason, message }],
        this.keptStatus(o),
      );
    if (domain.status !== 'True') {
      await notSynced('WaitingForDomain', domain.message);
      return {};
    }
    let outcome: SyncOutcome;
    try {
      outcome = await this.sync(o, owner);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      const reason = refusalReason(error);
      await notSynced(reason, error.message);
      return reason === 'Conflict' ? { requeueAfterMs: CONFLICT_RECHECK_MS } : {};
    }
    if (!outcome.synced) {
      await notSynced(outcome.reason, outcome.message);
      return {};
    }
    await kind.writeStatus(
      o,
      [domain, { type: this.syncedType, status: 'True', reason: 'Synced', message: outcome.message }],
      outcome.status,
      outcome.announceReady,
    );
    return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : {};
  }
}
