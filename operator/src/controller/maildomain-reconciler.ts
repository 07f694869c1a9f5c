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
import { compileDomainScripts, SieveScriptError } from '@hermod/sieve-store';
import type { KV } from 'nats';
import { z } from 'zod';
import {
  API_VERSION,
  controllerReference,
  type DnsRecordStatus,
  GROUP,
  KIND,
  MailDomain,
  type MailDomainStatus,
  ObjectMeta,
  PLURAL,
} from '../api/v1alpha1/maildomain.js';
import { type ConditionLike, conditionOf, mergeConditions } from '../kube/conditions.js';
import { KubeApiError, TerminalReconcileError } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { Informer, KubeObject } from '../kube/informer.js';
import type { JsonPatchOp, KubeClient } from '../kube/kube-client.js';
import type { OperatorMetrics } from '../metrics.js';
import { clientRecords } from './client-records.js';
import type { ReconcileResult, Reconciler } from './controller.js';
import { type ActiveDkim, desiredDomainConfig, sameConfig, sourceOf } from './desired-config.js';
import {
  type DkimAlgorithm,
  DkimState,
  type GeneratedKey,
  type KeyMeta,
  keyMaterialProblem,
  planDkim,
  selectorFactory,
} from './dkim.js';
import type { DnsEndpointWriter } from './dns-endpoints.js';
import { type DnsLookup, expectedRecords, verifyRecords } from './dns-records.js';
import { type ConditionPart, type DkimFacts, desiredStatus } from './status.js';

/** Why spec.sieve cannot be applied (the compiler's errors, with script, line and column), if it cannot. */
function sieveSpecProblem(md: MailDomain): string | undefined {
  const { sieve } = md.spec;
  if (!sieve) return undefined;
  try {
    compileDomainScripts(md.spec.domain, {
      before: sieve.before,
      after: sieve.after,
      library: sieve.library.map((l) => ({ name: l.name, source: l.script })),
    });
    return undefined;
  } catch (error) {
    if (error instanceof SieveScriptError) return `spec.sieve: ${error.message}`;
    throw error;
  }
}

export const FINALIZER = 'mail.hermod.dev/cleanup';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'hermod-operator';
export const DOMAIN_LABEL = 'mail.hermod.dev/maildomain';
export const DKIM_STATE_ANNOTATION = 'mail.hermod.dev/dkim-state';
/** On a MailDomain: take over a live config record someone else (the CLI) wrote. */
export const ADOPT_ANNOTATION = 'mail.hermod.dev/adopt';
/** How often a MailDomain refused for a foreign record looks again (the bucket is not watched). */
const FOREIGN_RECHECK_MS = 30_000;

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
  /** Target of the autoconfig./autodiscover.<domain> CNAMEs listed in status; unset: not listed. */
  autoconfigTarget?: string | undefined;
  /** Writes DNSEndpoints for MailDomains with spec.dns.provider externalDNS. */
  dnsEndpoints?: DnsEndpointWriter;
  dnsRecheckMs: number;
  /** No MailDomain gets a new DKIM key sooner than this after its previous one. */
  keyMinIntervalMs: number;
}

interface DkimOutcome extends DkimFacts {
  active?: ActiveDkim;
  published: Array<{ selector: string; algorithm: DkimAlgorithm; publicKey: string }>;
}

const secretNameOf = (md: Pick<MailDomain, 'metadata'>): string => `${md.metadata.name}-dkim`;
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

  /**
   * Secrets we wrote (or read through) whose version the informer cache has not shown yet:
   * key -> resourceVersion ('' for gone). Until the cache catches up, reads go to the API server.
   */
  private readonly unconfirmedSecrets = new Map<string, string>();
  /** When each MailDomain last had a DKIM key generated (the key rate limit). */
  private readonly lastKeyAt = new Map<string, number>();

  constructor(private readonly o: MailDomainReconcilerOptions) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const raw = this.o.mailDomains.get(key);
    if (!raw) {
      this.dnsCache.delete(key);
      this.lastKeyAt.delete(key);
      return {};
    }
    const parsed = MailDomain.safeParse(raw);
    if (!parsed.success) {
      const detail = describeIssues(parsed.error.issues);
      const identity = MailDomainIdentity.safeParse(raw);
      // A spec we cannot use must not hold up the deletion: cleanup needs only the domain.
      if (identity.success && identity.data.metadata.deletionTimestamp) return this.finalize(identity.data);
      await this.reportInvalidSpec(raw, detail);
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
    const current = await this.readConfig(md.spec.domain);
    // Records of other MailDomains are arbitrated above (oldest wins); anything else (the CLI)
    // is someone's hand-made domain: never taken over, and so never deleted, unless asked.
    if (
      current &&
      !current.source.startsWith('operator:') &&
      md.metadata.annotations?.[ADOPT_ANNOTATION] !== 'true'
    ) {
      await this.writeStatus(md, {
        configApplied: {
          status: 'False',
          reason: 'DomainConflict',
          message: `${md.spec.domain} is already configured (source ${current.source}); remove it there, or annotate this MailDomain ${ADOPT_ANNOTATION}=true to take it over`,
        },
        dkim: undefined,
        dnsRecords: undefined,
        effective: undefined,
      });
      return { requeueAfterMs: FOREIGN_RECHECK_MS };
    }
    // A spec.sieve that does not compile is not applied: the record in force (if any) stays.
    const sieveProblem = sieveSpecProblem(md);
    if (sieveProblem) {
      await this.writeStatus(md, {
        configApplied: { status: 'False', reason: 'InvalidSieveScript', message: sieveProblem },
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
    await this.o.dnsEndpoints?.sync(md, dnsRecords);
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
    // A foreign Secret is not in the (label-filtered) cache: its removal brings no event.
    if (dkim.conflict) waits.push(FOREIGN_RECHECK_MS);
    const next = waits.filter((w): w is number => w !== undefined).map((w) => Math.max(w, 1_000));
    return next.length > 0 ? { requeueAfterMs: Math.min(...next) } : {};
  }

  /**
   * A spec the API server took but the operator cannot use (what the schema cannot say, such as a
   * regex that does not compile): Ready and ConfigApplied False, reason InvalidSpec, naming the
   * field, at this generation; the rest of status (and the record in force) stays as it was.
   */
  private async reportInvalidSpec(raw: KubeObject, detail: string): Promise<void> {
    const existing = (raw.status as { conditions?: ConditionLike[] } | undefined)?.conditions ?? [];
    const problem = {
      status: 'False' as const,
      reason: 'InvalidSpec',
      message: detail.slice(0, 2000),
      observedGeneration: raw.metadata.generation ?? 0,
    };
    const conditions = [
      ...mergeConditions(
        existing,
        [
          { type: 'Ready', ...problem },
          { type: 'ConfigApplied', ...problem },
        ],
        this.o.clock(),
      ),
      ...existing.filter((c) => c.type !== 'Ready' && c.type !== 'ConfigApplied'),
    ];
    // Dealt with at this generation (only a spec change can help), like InvalidSieveScript.
    await this.applyStatus(raw, {
      ...(raw.status ?? {}),
      observedGeneration: problem.observedGeneration,
      conditions,
    });
    const before = conditionOf(existing, 'Ready');
    if (before?.reason !== 'InvalidSpec' || before.message !== problem.message)
      await this.o.events.record(this.target(raw), 'Warning', 'InvalidSpec', problem.message);
  }

  private keyOf(md: Pick<MailDomain, 'metadata'>): string {
    return `${md.metadata.namespace ?? 'default'}/${md.metadata.name}`;
  }

  private target(md: Pick<MailDomain, 'metadata'>) {
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

  private async finalize(md: MailDomainIdentity): Promise<ReconcileResult> {
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
    const secret = this.o.secrets.get(`${ns}/${secretNameOf(md)}`);
    if (
      secret &&
      (secret.metadata.ownerReferences?.some((r) => r.uid === md.metadata.uid) ||
        madeForThisDomain(secret, md))
    )
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

  /**
   * The DKIM Secret as the API server has it. The informer cache answers when it has confirmed
   * our last write; on a miss, or while it lags behind (say its watch is down after an API-server
   * restart while the MailDomain watch is back), the Secret is read through the API, so a key is
   * never made twice for want of seeing the first.
   */
  private async readSecret(ns: string, name: string): Promise<KubeObject | undefined> {
    const key = `${ns}/${name}`;
    const cached = this.o.secrets.get(key);
    const expected = this.unconfirmedSecrets.get(key);
    if (expected !== undefined && expected === (cached?.metadata.resourceVersion ?? ''))
      this.unconfirmedSecrets.delete(key);
    if (cached && !this.unconfirmedSecrets.has(key)) return cached;
    const live = await this.o.client.getOptional<KubeObject>(`/api/v1/namespaces/${ns}/secrets/${name}`);
    const liveVersion = live?.metadata.resourceVersion ?? '';
    if (liveVersion === (cached?.metadata.resourceVersion ?? '')) this.unconfirmedSecrets.delete(key);
    else this.unconfirmedSecrets.set(key, liveVersion);
    return live;
  }

  /**
   * Writes the DKIM Secret conditionally on what was read: create when there was none (a
   * concurrent create answers AlreadyExists and the next attempt reads it), else patch it with
   * the read resourceVersion as a precondition. The written version is awaited in the cache.
   */
  private async writeSecret(secret: KubeObject, existing: KubeObject | undefined): Promise<void> {
    const ns = secret.metadata.namespace ?? 'default';
    const key = `${ns}/${secret.metadata.name}`;
    try {
      // A JSON patch with a resourceVersion test: exactly the data we want (keys no longer
      // wanted are gone), and nothing if the Secret changed since we read it.
      const written = existing
        ? await this.o.client.jsonPatch<KubeObject>(
            `/api/v1/namespaces/${ns}/secrets/${secret.metadata.name}`,
            [
              { op: 'test', path: '/metadata/resourceVersion', value: existing.metadata.resourceVersion },
              { op: 'add', path: '/data', value: secret.data },
              {
                op: 'add',
                path: '/metadata/labels',
                value: { ...existing.metadata.labels, ...secret.metadata.labels },
              },
              {
                op: 'add',
                path: '/metadata/annotations',
                value: { ...existing.metadata.annotations, ...secret.metadata.annotations },
              },
              { op: 'add', path: '/metadata/ownerReferences', value: secret.metadata.ownerReferences },
            ],
            this.o.fieldManager,
          )
        : await this.o.client.create<KubeObject>(
            `/api/v1/namespaces/${ns}/secrets`,
            secret,
            this.o.fieldManager,
          );
      this.unconfirmedSecrets.set(key, written.metadata.resourceVersion ?? '');
    } catch (error) {
      // Someone else's version is there: read it through next time.
      if (error instanceof KubeApiError && error.conflict) this.unconfirmedSecrets.set(key, '?');
      throw error;
    }
  }

  private async ensureDkim(md: MailDomain): Promise<DkimOutcome> {
    const ns = md.metadata.namespace ?? 'default';
    const name = secretNameOf(md);
    // Disabled: the cache is enough to find a Secret to delete (its events bring us back).
    const secret = md.spec.dkim.enabled
      ? await this.readSecret(ns, name)
      : this.o.secrets.get(`${ns}/${name}`);
    const owned = !!secret?.metadata.ownerReferences?.some((r) => r.uid === md.metadata.uid);
    // Someone else's Secret under our name is never written over (nor deleted with the domain).
    if (secret && !owned && !madeForThisDomain(secret, md)) {
      return {
        published: [],
        state: {},
        conflict: `Secret ${name} already exists and is not this MailDomain's (no owner reference to it, no ${MANAGED_BY_LABEL}=${MANAGED_BY} and ${DOMAIN_LABEL}=${md.metadata.name} labels); delete or rename it`,
      };
    }
    if (!md.spec.dkim.enabled) {
      if (secret && owned) {
        await this.o.client.delete(`/api/v1/namespaces/${ns}/secrets/${name}`);
        this.unconfirmedSecrets.set(`${ns}/${name}`, '');
        for (const ref of await listDkimKeyRefs(this.o.buckets.dkimKeys, md.spec.domain))
          await deleteDkimKey(this.o.buckets.dkimKeys, ref);
      }
      return { published: [], state: {} };
    }
    const data = (owned ? (secret?.data as Record<string, string> | undefined) : undefined) ?? {};
    // Material that cannot sign (edited by hand, a bad restore) counts as missing: it is replaced.
    const broken = new Map<string, string>();
    const checked = new Map<string, GeneratedKey | undefined>();
    const material = (meta: KeyMeta): GeneratedKey | undefined => {
      if (checked.has(meta.selector)) return checked.get(meta.selector);
      const pem = data[`${meta.selector}.private.pem`];
      const pub = data[`${meta.selector}.public.txt`];
      let key: GeneratedKey | undefined =
        pem && pub
          ? {
              privateKeyPem: Buffer.from(pem, 'base64').toString('utf8'),
              publicKey: Buffer.from(pub, 'base64').toString('utf8'),
            }
          : undefined;
      const problem = key && keyMaterialProblem(key, meta.algorithm);
      if (problem) {
        broken.set(meta.selector, problem);
        key = undefined;
      }
      checked.set(meta.selector, key);
      return key;
    };
    let state: DkimState = {};
    if (owned) {
      const parsed = DkimState.safeParse(safeJson(secret?.metadata.annotations?.[DKIM_STATE_ANNOTATION]));
      if (parsed.success) state = parsed.data;
    }
    // A selector whose key material went missing is treated as never made.
    if (state.active && !material(state.active))
      state = { ...(state.pending ? { active: state.pending } : {}) };
    if (state.pending && !material(state.pending))
      state = { ...(state.active ? { active: state.active } : {}) };
    const now = this.o.clock();
    const taken = [state.active?.selector, state.pending?.selector, state.retiring?.selector].filter(
      (s): s is string => !!s,
    );
    if (state.retiring && !material(state.retiring)) {
      const { retiring: _gone, ...rest } = state;
      state = rest;
    }
    let plan = planDkim(
      state,
      md.spec.dkim,
      now,
      selectorFactory(md.spec.dkim.selectorPrefix, this.o.clock, taken),
      { pendingVisible: this.pendingVisible(md, state) },
    );
    const mdKey = this.keyOf(md);
    const hold = plan.created.length > 0 ? this.keyHold(mdKey, `${ns}/${name}`, now.getTime()) : undefined;
    if (hold) {
      // Keep what there is; try again once the hold is over.
      plan = {
        state,
        created: [],
        retired: [],
        switched: false,
        held: false,
        nextTransitionAt: new Date(now.getTime() + hold.waitMs),
      };
    }
    const live = [plan.state.active, plan.state.pending, plan.state.retiring].filter(
      (m): m is KeyMeta => !!m,
    );
    const keys = new Map<string, GeneratedKey>();
    for (const meta of live) {
      if (!meta) continue;
      const existing = material(meta);
      if (existing) keys.set(meta.selector, existing);
      else {
        keys.set(meta.selector, await this.o.generateKey(meta.algorithm));
        this.o.metrics.dkimKeysGenerated.inc();
        this.lastKeyAt.set(mdKey, this.o.clock().getTime());
      }
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
    if (!upToDate && keys.size > 0) {
      await this.writeSecret(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name,
            namespace: ns,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [DOMAIN_LABEL]: md.metadata.name },
            annotations: { [DKIM_STATE_ANNOTATION]: annotation },
            ownerReferences: [controllerReference(md)],
          },
          data: desiredData,
        },
        secret,
      );
    }
    // The signing keys outbound-mta reads: every live selector, and none of the retired ones.
    for (const meta of live) {
      const key = keys.get(meta.selector);
      if (key) await this.publishKey(md.spec.domain, meta, key);
    }
    // Retired selectors, and after any Secret change (say someone deleted it and new keys were
    // made) whatever else the bucket holds for the domain: no private key outlives its Secret.
    const liveRefs = new Set(live.map((m) => dkimKeyRef(md.spec.domain, m.selector)));
    const stale = new Set(plan.retired.map((selector) => dkimKeyRef(md.spec.domain, selector)));
    if (!upToDate)
      for (const ref of await listDkimKeyRefs(this.o.buckets.dkimKeys, md.spec.domain))
        if (!liveRefs.has(ref)) stale.add(ref);
    for (const ref of stale) {
      await deleteDkimKey(this.o.buckets.dkimKeys, ref);
      this.o.metrics.configWrites.inc({ bucket: 'dkim-keys', operation: 'delete' });
    }
    if (plan.created.length > 0)
      for (const [selector, problem] of broken)
        await this.o.events.record(
          this.target(md),
          'Warning',
          'DkimKeyInvalid',
          `the key of selector ${selector} in Secret ${name} cannot sign (${problem}); a new key replaces it`,
        );
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
      published: live.map((m) => ({
        selector: m.selector,
        algorithm: m.algorithm,
        publicKey: keys.get(m.selector)?.publicKey ?? '',
      })),
      state: plan.state,
      nextTransitionAt: plan.nextTransitionAt,
      secretName: name,
      ...(hold ? { deferred: hold.reason } : {}),
      ...(plan.held ? { held: true } : {}),
    };
  }

  /**
   * Whether the resolver saw the pending selector's record at the last DNS check (undefined when
   * verification is off, so rotation runs on time alone).
   */
  private pendingVisible(md: MailDomain, state: DkimState): boolean | undefined {
    if (!this.o.dns || !md.spec.dns.verify || !state.pending) return undefined;
    const name = `${state.pending.selector}._domainkey.${md.spec.domain}`;
    const record = this.dnsCache
      .get(this.keyOf(md))
      ?.records.find((r) => r.purpose === 'DKIM' && r.name === name);
    return record?.visible === true;
  }

  /**
   * Why a new key for this MailDomain must wait, if it must: never faster than the cache can
   * confirm our last Secret write, and never sooner than keyMinIntervalMs after the last key.
   */
  private keyHold(
    mdKey: string,
    secretKey: string,
    now: number,
  ): { reason: string; waitMs: number } | undefined {
    if (this.unconfirmedSecrets.has(secretKey))
      return { reason: 'waiting for the DKIM Secret cache to confirm the last write', waitMs: 1_000 };
    const last = this.lastKeyAt.get(mdKey);
    if (last !== undefined && now - last < this.o.keyMinIntervalMs)
      return {
        reason: `a key was made ${now - last} ms ago; the next may come after ${this.o.keyMinIntervalMs} ms`,
        waitMs: this.o.keyMinIntervalMs - (now - last),
      };
    return undefined;
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
    const mail = await this.mailDnsStatus(md, dkim);
    return [...mail, ...clientRecords(md, this.o.autoconfigTarget)];
  }

  private async mailDnsStatus(md: MailDomain, dkim: DkimOutcome): Promise<DnsRecordStatus[]> {
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
      configApplied: ConditionPart;
      dkim: DkimOutcome | undefined;
      dnsRecords: DnsRecordStatus[] | undefined;
      effective: { mode?: 'local' | 'remote' | 'backup'; reason: string } | undefined;
    },
  ): Promise<void> {
    const { status, events } = desiredStatus(md, parts, this.o.clock());
    await this.applyStatus(md, status);
    for (const e of events) await this.o.events.record(this.target(md), e.type, e.reason, e.message);
  }

  /** Server-side apply of status when it differs from what the object already shows. */
  private async applyStatus(
    md: Pick<MailDomain, 'metadata'> & { status?: unknown },
    status: MailDomainStatus | Record<string, unknown>,
  ): Promise<void> {
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

/** What deleting a MailDomain needs of it, readable even when the rest of its spec is not. */
const MailDomainIdentity = z.object({
  metadata: ObjectMeta,
  spec: z.looseObject({ domain: z.string() }),
});
type MailDomainIdentity = z.infer<typeof MailDomainIdentity>;

/** Schema issues as the API server names fields: spec.remote.hosts[0].port: message. */
function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  const path = (p: PropertyKey[]) =>
    p.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i > 0 ? '.' : ''}${String(s)}`)).join('');
  return issues.map((i) => `${path(i.path)}: ${i.message}`).join('; ');
}

/** Our labels for this MailDomain: a Secret we made for it (perhaps for an earlier incarnation). */
function madeForThisDomain(secret: KubeObject, md: Pick<MailDomain, 'metadata'>): boolean {
  const labels = secret.metadata.labels;
  return labels?.[MANAGED_BY_LABEL] === MANAGED_BY && labels[DOMAIN_LABEL] === md.metadata.name;
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
