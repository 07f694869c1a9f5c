import {
  DkimKey,
  type DomainConfig,
  deleteDkimKey,
  dkimKeyRef,
  listDkimKeyRefs,
  parseDomainConfig,
  readDomainStatus,
  writeDkimKey,
  writeDomainConfig,
} from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import type { KV } from 'nats';
import {
  API_VERSION,
  type Condition,
  type DnsRecordStatus,
  GROUP,
  KIND,
  MailDomain,
  type MailDomainStatus,
  PLURAL,
} from '../api/v1alpha1/maildomain.js';
import { conditionOf, mergeConditions } from '../kube/conditions.js';
import { KubeApiError, TerminalReconcileError } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { Informer, KubeObject } from '../kube/informer.js';
import type { JsonPatchOp, KubeClient } from '../kube/kube-client.js';
import type { OperatorMetrics } from '../metrics.js';
import type { ReconcileResult, Reconciler } from './controller.js';
import { type ActiveDkim, desiredDomainConfig, sameConfig, sourceOf } from './desired-config.js';
import {
  type DkimAlgorithm,
  DkimState,
  type GeneratedKey,
  type KeyMeta,
  planDkim,
  selectorFactory,
} from './dkim.js';
import { type DnsLookup, expectedRecords, verifyRecords } from './dns-records.js';

export const FINALIZER = 'mail.hermod.dev/cleanup';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'hermod-operator';
export const DOMAIN_LABEL = 'mail.hermod.dev/maildomain';
export const DKIM_STATE_ANNOTATION = 'mail.hermod.dev/dkim-state';

export interface MailDomainReconcilerOptions {
  client: KubeClient;
  mailDomains: Informer;
  secrets: Informer;
  buckets: { domains: KV; dkimKeys: KV; domainStatus: KV };
  events: EventRecorder;
  /** undefined: DNS verification is off for every domain. */
  dns: DnsLookup | undefined;
  clock: () => Date;
  generateKey: (algorithm: DkimAlgorithm) => Promise<GeneratedKey>;
  logger: Logger;
  metrics: OperatorMetrics;
  fieldManager: string;
  defaultMxHosts: string[];
  dnsRecheckMs: number;
}

interface DkimOutcome {
  active?: ActiveDkim;
  published: Array<{ selector: string; algorithm: DkimAlgorithm; publicKey: string }>;
  state: DkimState;
  nextTransitionAt?: Date | undefined;
  secretName?: string;
}

const secretNameOf = (md: MailDomain): string => `${md.metadata.name}-dkim`;
const mdPath = (namespace: string, name?: string): string =>
  `/apis/${GROUP}/${API_VERSION.split('/')[1]}/namespaces/${namespace}/${PLURAL}${name ? `/${name}` : ''}`;
const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );

/**
 * reconcile(namespace/name) converges one MailDomain: finalizer, DKIM Secret and keys, the live
 * config record in NATS KV, then status. Level-based: it reads the whole object and the world
 * and writes only what differs, so a second run at the same generation writes nothing.
 */
export class MailDomainReconciler implements Reconciler {
  private readonly dnsCache = new Map<
    string,
    { at: number; fingerprint: string; records: DnsRecordStatus[] }
  >();

  constructor(private readonly o: MailDomainReconcilerOptions) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const raw = this.o.mailDomains.get(key);
    if (!raw) {
      this.dnsCache.delete(key);
      return {};
    }
    const parsed = MailDomain.safeParse(raw);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new TerminalReconcileError('InvalidSpec', `${key}: ${detail}`);
    }
    const md = parsed.data;
    if (md.metadata.deletionTimestamp) return this.finalize(md);
    try {
      return await this.converge(md);
    } catch (error) {
      await this.reportFailure(md, error);
      throw error;
    }
  }

  private async converge(md: MailDomain): Promise<ReconcileResult> {
    if (!md.metadata.finalizers?.includes(FINALIZER)) await this.addFinalizer(md);
    const winner = this.domainOwner(md.spec.domain);
    if (winner && winner !== this.keyOf(md)) {
      await this.writeStatus(md, {
        configApplied: {
          status: 'False',
          reason: 'DomainConflict',
          message: `${md.spec.domain} is already served by MailDomain ${winner}`,
        },
        dkim: undefined,
        dnsRecords: undefined,
        effective: undefined,
      });
      return {};
    }
    const dkim = await this.ensureDkim(md);
    const configChanged = await this.applyConfig(desiredDomainConfig(md, dkim.active));
    if (configChanged) {
      await this.o.events.record(
        this.target(md),
        'Normal',
        'ConfigApplied',
        `live config for ${md.spec.domain} written (generation ${md.metadata.generation ?? 0})`,
      );
    }
    const dnsRecords = await this.dnsStatus(md, dkim);
    const effective = await this.effectiveExchanger(md);
    await this.writeStatus(md, {
      configApplied: {
        status: 'True',
        reason: 'Applied',
        message: `live config for ${md.spec.domain} is in the hermod-domains bucket`,
      },
      dkim,
      dnsRecords,
      effective,
    });
    const waits = [
      dkim.nextTransitionAt ? dkim.nextTransitionAt.getTime() - this.o.clock().getTime() : undefined,
    ];
    if (this.o.dns && md.spec.dns.verify) waits.push(this.o.dnsRecheckMs);
    const next = waits.filter((w): w is number => w !== undefined).map((w) => Math.max(w, 1_000));
    return next.length > 0 ? { requeueAfterMs: Math.min(...next) } : {};
  }

  private keyOf(md: MailDomain): string {
    return `${md.metadata.namespace ?? 'default'}/${md.metadata.name}`;
  }

  private target(md: MailDomain) {
    return { apiVersion: API_VERSION, kind: KIND, metadata: { ...md.metadata, name: md.metadata.name } };
  }

  /** The MailDomain that serves a domain when several name it: the oldest (then by key) alive one. */
  domainOwner(domain: string): string | undefined {
    let best: { key: string; created: string } | undefined;
    for (const o of this.o.mailDomains.list()) {
      const spec = o.spec as { domain?: string } | undefined;
      if (spec?.domain !== domain || o.metadata.deletionTimestamp) continue;
      const key = `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
      const created = String(o.metadata.creationTimestamp ?? '');
      if (!best || created < best.created || (created === best.created && key < best.key))
        best = { key, created };
    }
    return best?.key;
  }

  private async addFinalizer(md: MailDomain): Promise<void> {
    const ns = md.metadata.namespace ?? 'default';
    const finalizers = md.metadata.finalizers;
    const ops: JsonPatchOp[] = [
      { op: 'test', path: '/metadata/resourceVersion', value: md.metadata.resourceVersion },
      finalizers
        ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }
        : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
    ];
    await this.o.client.jsonPatch(mdPath(ns, md.metadata.name), ops, this.o.fieldManager);
  }

  private async finalize(md: MailDomain): Promise<ReconcileResult> {
    const index = md.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
    if (index < 0) return {};
    const ns = md.metadata.namespace ?? 'default';
    const { domains, dkimKeys } = this.o.buckets;
    const current = await this.readConfig(md.spec.domain);
    // Only our own record: a conflicting duplicate's deletion must not take the domain away.
    if (!current || current.source === sourceOf(md)) {
      if (current) {
        await domains.delete(md.spec.domain);
        this.o.metrics.configWrites.inc({ bucket: 'domains', operation: 'delete' });
      }
      for (const ref of await listDkimKeyRefs(dkimKeys, md.spec.domain)) {
        await deleteDkimKey(dkimKeys, ref);
        this.o.metrics.configWrites.inc({ bucket: 'dkim-keys', operation: 'delete' });
      }
    }
    // Owned, so garbage collection would remove it too; deleting here makes cleanup not depend on it.
    if (this.o.secrets.get(`${ns}/${secretNameOf(md)}`))
      await this.o.client.delete(`/api/v1/namespaces/${ns}/secrets/${secretNameOf(md)}`);
    try {
      await this.o.client.jsonPatch(
        mdPath(ns, md.metadata.name),
        [
          { op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER },
          { op: 'remove', path: `/metadata/finalizers/${index}` },
        ],
        this.o.fieldManager,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return {};
      throw error;
    }
    this.dnsCache.delete(this.keyOf(md));
    await this.o.events.record(
      this.target(md),
      'Normal',
      'CleanedUp',
      `live config and DKIM keys of ${md.spec.domain} removed`,
    );
    return {};
  }

  private async readConfig(domain: string): Promise<DomainConfig | undefined> {
    const entry = await this.o.buckets.domains.get(domain);
    if (entry?.operation !== 'PUT') return undefined;
    try {
      return parseDomainConfig(entry.json());
    } catch {
      return undefined;
    }
  }

  /** Writes the record when it differs from what the bucket holds; true when it wrote. */
  private async applyConfig(desired: Omit<DomainConfig, 'updatedAt'>): Promise<boolean> {
    const current = await this.readConfig(desired.domain);
    if (sameConfig(desired, current)) return false;
    await writeDomainConfig(this.o.buckets.domains, { ...desired, updatedAt: this.o.clock().toISOString() });
    this.o.metrics.configWrites.inc({ bucket: 'domains', operation: 'put' });
    return true;
  }

  private async ensureDkim(md: MailDomain): Promise<DkimOutcome> {
    const ns = md.metadata.namespace ?? 'default';
    const name = secretNameOf(md);
    const secret = this.o.secrets.get(`${ns}/${name}`);
    const owned = !!secret?.metadata.ownerReferences?.some((r) => r.uid === md.metadata.uid);
    if (!md.spec.dkim.enabled) {
      if (secret && owned) {
        await this.o.client.delete(`/api/v1/namespaces/${ns}/secrets/${name}`);
        for (const ref of await listDkimKeyRefs(this.o.buckets.dkimKeys, md.spec.domain))
          await deleteDkimKey(this.o.buckets.dkimKeys, ref);
      }
      return { published: [], state: {} };
    }
    const data = (owned ? (secret?.data as Record<string, string> | undefined) : undefined) ?? {};
    const material = (selector: string): GeneratedKey | undefined => {
      const pem = data[`${selector}.private.pem`];
      const pub = data[`${selector}.public.txt`];
      return pem && pub
        ? {
            privateKeyPem: Buffer.from(pem, 'base64').toString('utf8'),
            publicKey: Buffer.from(pub, 'base64').toString('utf8'),
          }
        : undefined;
    };
    let state: DkimState = {};
    if (owned) {
      const parsed = DkimState.safeParse(safeJson(secret?.metadata.annotations?.[DKIM_STATE_ANNOTATION]));
      if (parsed.success) state = parsed.data;
    }
    // A selector whose key material went missing is treated as never made.
    if (state.active && !material(state.active.selector))
      state = { ...(state.pending ? { active: state.pending } : {}) };
    if (state.pending && !material(state.pending.selector))
      state = { ...(state.active ? { active: state.active } : {}) };
    const now = this.o.clock();
    const taken = [state.active?.selector, state.pending?.selector].filter((s): s is string => !!s);
    const plan = planDkim(
      state,
      md.spec.dkim,
      now,
      selectorFactory(md.spec.dkim.selectorPrefix, this.o.clock, taken),
    );
    const keys = new Map<string, GeneratedKey>();
    for (const meta of [plan.state.active, plan.state.pending]) {
      if (!meta) continue;
      const existing = material(meta.selector);
      keys.set(meta.selector, existing ?? (await this.o.generateKey(meta.algorithm)));
    }
    const desiredData: Record<string, string> = {};
    for (const [selector, key] of keys) {
      desiredData[`${selector}.private.pem`] = Buffer.from(key.privateKeyPem).toString('base64');
      desiredData[`${selector}.public.txt`] = Buffer.from(key.publicKey).toString('base64');
    }
    const annotation = JSON.stringify(plan.state);
    const upToDate =
      owned &&
      secret?.metadata.annotations?.[DKIM_STATE_ANNOTATION] === annotation &&
      stableJson(data) === stableJson(desiredData);
    if (!upToDate) {
      await this.o.client.apply(
        `/api/v1/namespaces/${ns}/secrets/${name}`,
        {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name,
            namespace: ns,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [DOMAIN_LABEL]: md.metadata.name },
            annotations: { [DKIM_STATE_ANNOTATION]: annotation },
            ownerReferences: [
              {
                apiVersion: API_VERSION,
                kind: KIND,
                name: md.metadata.name,
                uid: md.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          data: desiredData,
        },
        this.o.fieldManager,
      );
    }
    // The signing keys outbound-mta reads: every live selector, and none of the retired ones.
    for (const meta of [plan.state.active, plan.state.pending]) {
      const key = meta && keys.get(meta.selector);
      if (meta && key) await this.publishKey(md.spec.domain, meta, key);
    }
    // Retired selectors, and after any Secret change (say someone deleted it and new keys were
    // made) whatever else the bucket holds for the domain: no private key outlives its Secret.
    const live = new Set(
      [plan.state.active, plan.state.pending]
        .filter((m): m is KeyMeta => !!m)
        .map((m) => dkimKeyRef(md.spec.domain, m.selector)),
    );
    const stale = new Set(plan.retired.map((selector) => dkimKeyRef(md.spec.domain, selector)));
    if (!upToDate)
      for (const ref of await listDkimKeyRefs(this.o.buckets.dkimKeys, md.spec.domain))
        if (!live.has(ref)) stale.add(ref);
    for (const ref of stale) {
      await deleteDkimKey(this.o.buckets.dkimKeys, ref);
      this.o.metrics.configWrites.inc({ bucket: 'dkim-keys', operation: 'delete' });
    }
    for (const meta of plan.created) {
      await this.o.events.record(
        this.target(md),
        'Normal',
        'DkimKeyCreated',
        `new ${meta.algorithm} key, selector ${meta.selector}`,
      );
    }
    if (plan.switched && plan.state.active) {
      await this.o.events.record(
        this.target(md),
        'Normal',
        'DkimRotated',
        `signing switched to selector ${plan.state.active.selector}`,
      );
    }
    const active = plan.state.active;
    return {
      ...(active
        ? {
            active: {
              selector: active.selector,
              algorithm: active.algorithm,
              keyRef: dkimKeyRef(md.spec.domain, active.selector),
            },
          }
        : {}),
      published: [plan.state.active, plan.state.pending]
        .filter((m): m is KeyMeta => !!m)
        .map((m) => ({
          selector: m.selector,
          algorithm: m.algorithm,
          publicKey: keys.get(m.selector)?.publicKey ?? '',
        })),
      state: plan.state,
      nextTransitionAt: plan.nextTransitionAt,
      secretName: name,
    };
  }

  private async publishKey(domain: string, meta: KeyMeta, key: GeneratedKey): Promise<void> {
    const ref = dkimKeyRef(domain, meta.selector);
    const entry = await this.o.buckets.dkimKeys.get(ref);
    if (entry?.operation === 'PUT') {
      const current = DkimKey.safeParse(entry.json());
      if (
        current.success &&
        current.data.privateKeyPem === key.privateKeyPem &&
        current.data.algorithm === meta.algorithm
      )
        return;
    }
    await writeDkimKey(this.o.buckets.dkimKeys, {
      domain,
      selector: meta.selector,
      algorithm: meta.algorithm,
      privateKeyPem: key.privateKeyPem,
      publicKey: key.publicKey,
      createdAt: meta.since,
    });
    this.o.metrics.configWrites.inc({ bucket: 'dkim-keys', operation: 'put' });
  }

  private async dnsStatus(md: MailDomain, dkim: DkimOutcome): Promise<DnsRecordStatus[]> {
    const records = expectedRecords(md, dkim.published, this.o.defaultMxHosts);
    if (!this.o.dns || !md.spec.dns.verify) return records;
    const key = this.keyOf(md);
    const fingerprint = stableJson(records);
    const cached = this.dnsCache.get(key);
    const now = this.o.clock().getTime();
    if (cached && cached.fingerprint === fingerprint && now - cached.at < this.o.dnsRecheckMs)
      return cached.records;
    const verified = await verifyRecords(records, this.o.dns);
    this.dnsCache.set(key, { at: now, fingerprint, records: verified });
    return verified;
  }

  private async effectiveExchanger(
    md: MailDomain,
  ): Promise<{ mode?: 'local' | 'remote' | 'backup'; reason: string }> {
    if (md.spec.exchanger !== 'auto') return { mode: md.spec.exchanger, reason: 'set in spec.exchanger' };
    const decided = await readDomainStatus(this.o.buckets.domainStatus, md.spec.domain);
    if (!decided) return { reason: 'waiting for the routing service to evaluate the MX records' };
    return { mode: decided.effectiveExchanger, reason: decided.reason };
  }

  private async writeStatus(
    md: MailDomain,
    parts: {
      configApplied: Omit<Condition, 'type' | 'lastTransitionTime'>;
      dkim: DkimOutcome | undefined;
      dnsRecords: DnsRecordStatus[] | undefined;
      effective: { mode?: 'local' | 'remote' | 'backup'; reason: string } | undefined;
    },
  ): Promise<void> {
    const generation = md.metadata.generation ?? 0;
    const { dkim, dnsRecords } = parts;
    const dkimCondition: Omit<Condition, 'type' | 'lastTransitionTime'> = !md.spec.dkim.enabled
      ? { status: 'True', reason: 'Disabled', message: 'DKIM signing is disabled in spec.dkim.enabled' }
      : dkim?.active
        ? {
            status: 'True',
            reason: 'KeyActive',
            message:
              `signing with selector ${dkim.active.selector}` +
              (dkim.state.pending
                ? `; ${dkim.state.pending.selector} is published and takes over at ${dkim.nextTransitionAt?.toISOString()}`
                : ''),
          }
        : {
            status: 'Unknown',
            reason: 'NotEvaluated',
            message: 'no DKIM key while the domain is not served',
          };
    const checked = dnsRecords?.filter((r) => r.visible !== undefined) ?? [];
    const missing = checked.filter((r) => !r.visible);
    const dnsCondition: Omit<Condition, 'type' | 'lastTransitionTime'> =
      !dnsRecords || checked.length === 0
        ? {
            status: 'Unknown',
            reason: 'NotChecked',
            message: 'DNS verification is off (spec.dns.verify or the operator settings)',
          }
        : missing.length === 0
          ? { status: 'True', reason: 'RecordsVisible', message: `all ${checked.length} records are visible` }
          : {
              status: 'False',
              reason: 'RecordsMissing',
              message:
                `not visible: ${missing.map((r) => `${r.purpose} ${r.name}${r.detail ? ` (${r.detail})` : ''}`).join('; ')}`.slice(
                  0,
                  2000,
                ),
            };
    const ready = parts.configApplied.status === 'True' && dkimCondition.status === 'True';
    const readyCondition: Omit<Condition, 'type' | 'lastTransitionTime'> = ready
      ? { status: 'True', reason: 'Ready', message: `${md.spec.domain} is configured` }
      : {
          status: 'False',
          reason: parts.configApplied.status !== 'True' ? parts.configApplied.reason : dkimCondition.reason,
          message:
            parts.configApplied.status !== 'True' ? parts.configApplied.message : dkimCondition.message,
        };
    const desired = [
      { type: 'Ready', ...readyCondition },
      { type: 'ConfigApplied', ...parts.configApplied },
      { type: 'DkimKeyReady', ...dkimCondition },
      { type: 'DnsVerified', ...dnsCondition },
    ].map((c) => ({ ...c, observedGeneration: generation }));
    const status: MailDomainStatus = {
      observedGeneration: generation,
      conditions: mergeConditions(md.status?.conditions, desired, this.o.clock()),
      ...(parts.effective?.mode ? { effectiveExchanger: parts.effective.mode } : {}),
      ...(parts.effective ? { effectiveExchangerReason: parts.effective.reason } : {}),
      ...(dkim?.active
        ? {
            dkim: {
              activeSelector: dkim.active.selector,
              ...(dkim.state.pending ? { pendingSelector: dkim.state.pending.selector } : {}),
              ...(dkim.state.pending && dkim.nextTransitionAt
                ? { switchAfter: dkim.nextTransitionAt.toISOString() }
                : {}),
              ...(!dkim.state.pending && dkim.nextTransitionAt
                ? { nextRotation: dkim.nextTransitionAt.toISOString() }
                : {}),
              ...(dkim.secretName ? { secretName: dkim.secretName } : {}),
            },
          }
        : {}),
      ...(dnsRecords ? { dnsRecords } : {}),
    };
    await this.applyStatus(md, status);
    const before = conditionOf(md.status?.conditions, 'Ready');
    if (before?.status !== readyCondition.status || before?.reason !== readyCondition.reason) {
      await this.o.events.record(
        this.target(md),
        ready ? 'Normal' : 'Warning',
        readyCondition.reason,
        readyCondition.message,
      );
    }
  }

  /** Server-side apply of status when it differs from what the object already shows. */
  private async applyStatus(md: MailDomain, status: MailDomainStatus): Promise<void> {
    if (stableJson(status) === stableJson(md.status ?? {})) return;
    const ns = md.metadata.namespace ?? 'default';
    await this.o.client.apply(
      `${mdPath(ns, md.metadata.name)}/status`,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: md.metadata.name, namespace: ns }, status },
      this.o.fieldManager,
    );
  }

  /**
   * After a failed step: Ready=False with the error, keeping observedGeneration where it was (the
   * generation is not converged). Best effort; the reconcile is retried with backoff either way.
   */
  private async reportFailure(md: MailDomain, error: unknown): Promise<void> {
    if (error instanceof KubeApiError && (error.conflict || error.notFound)) return;
    const message = (error as Error).message?.slice(0, 1000) ?? String(error);
    const existing = md.status?.conditions ?? [];
    const now = this.o.clock();
    const failed = {
      type: 'Ready',
      status: 'False' as const,
      reason: 'ReconcileError',
      message,
      observedGeneration: md.metadata.generation ?? 0,
    };
    const conditions = [
      ...mergeConditions(existing, [failed], now),
      ...existing.filter((c) => c.type !== 'Ready'),
    ];
    try {
      await this.applyStatus(md, { ...(md.status ?? {}), conditions });
      if (conditionOf(existing, 'Ready')?.reason !== 'ReconcileError') {
        await this.o.events.record(this.target(md), 'Warning', 'ReconcileError', message);
      }
    } catch (statusError) {
      this.o.logger.debug({ err: statusError }, 'could not report the failure in status');
    }
  }
}

function safeJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type { KubeObject };
