import type { Condition, DnsRecordStatus, MailDomain, MailDomainStatus } from '../api/v1alpha1/maildomain.js';
import { conditionOf, mergeConditions } from '../kube/conditions.js';
import type { DkimState } from './dkim.js';

export type ConditionPart = Omit<Condition, 'type' | 'lastTransitionTime'>;

/** What one reconcile found out about the DKIM keys (see MailDomainReconciler.ensureDkim). */
export interface DkimFacts {
  state: DkimState;
  nextTransitionAt?: Date | undefined;
  secretName?: string;
  /** A key is due but held back (rate limit, or the cache has not confirmed our last write). */
  deferred?: string;
  /** The switch to state.pending is due but its DNS record is not visible. */
  held?: boolean;
  /** The DKIM Secret's name is taken by a Secret that is not ours: nothing is signed. */
  conflict?: string;
}

export interface StatusFacts {
  configApplied: ConditionPart;
  dkim: DkimFacts | undefined;
  dnsRecords: DnsRecordStatus[] | undefined;
  effective: { mode?: 'local' | 'remote' | 'backup'; reason: string } | undefined;
}

export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * The status a MailDomain should show, and the events its transitions deserve, as a pure
 * function of the object (its current status included), what the reconcile found, and the time.
 */
export function desiredStatus(
  md: MailDomain,
  facts: StatusFacts,
  now: Date,
): { status: MailDomainStatus; events: StatusEvent[] } {
  const generation = md.metadata.generation ?? 0;
  const { dkim, dnsRecords } = facts;
  const active = dkim?.state.active;
  const pending = dkim?.state.pending;
  const retiring = dkim?.state.retiring;
  const dkimCondition: ConditionPart = !md.spec.dkim.enabled
    ? { status: 'True', reason: 'Disabled', message: 'DKIM signing is disabled in spec.dkim.enabled' }
    : dkim?.conflict
      ? { status: 'False', reason: 'SecretConflict', message: dkim.conflict }
      : active
        ? {
            status: 'True',
            reason: 'KeyActive',
            message:
              `signing with selector ${active.selector}` +
              (pending && !dkim?.held
                ? `; ${pending.selector} is published and takes over at ${dkim?.nextTransitionAt?.toISOString()}`
                : ''),
          }
        : dkim?.deferred
          ? { status: 'False', reason: 'KeyPending', message: dkim.deferred }
          : {
              status: 'Unknown',
              reason: 'NotEvaluated',
              message: 'no DKIM key while the domain is not served',
            };
  const rotationCondition: ConditionPart = dkim?.held
    ? {
        status: 'False',
        reason: 'WaitingForDns',
        message: `signing stays with ${active?.selector}: the record ${pending?.selector}._domainkey.${md.spec.domain} is not visible in DNS yet`,
      }
    : pending
      ? {
          status: 'True',
          reason: 'Publishing',
          message: `${pending.selector} is published; signing switches at ${dkim?.nextTransitionAt?.toISOString()}`,
        }
      : retiring
        ? {
            status: 'True',
            reason: 'Retiring',
            message: `keep the record of ${retiring.selector} until it leaves status.dnsRecords`,
          }
        : { status: 'True', reason: 'Idle', message: 'no rotation in progress' };
  const checked = dnsRecords?.filter((r) => r.visible !== undefined) ?? [];
  const missing = checked.filter((r) => !r.visible);
  const dnsCondition: ConditionPart =
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
  const ready = facts.configApplied.status === 'True' && dkimCondition.status === 'True';
  const readyCondition: ConditionPart = ready
    ? { status: 'True', reason: 'Ready', message: `${md.spec.domain} is configured` }
    : facts.configApplied.status !== 'True'
      ? { status: 'False', reason: facts.configApplied.reason, message: facts.configApplied.message }
      : { status: 'False', reason: dkimCondition.reason, message: dkimCondition.message };
  const desired = [
    { type: 'Ready', ...readyCondition },
    { type: 'ConfigApplied', ...facts.configApplied },
    { type: 'DkimKeyReady', ...dkimCondition },
    ...(dkim ? [{ type: 'DkimRotation', ...rotationCondition }] : []),
    { type: 'DnsVerified', ...dnsCondition },
  ].map((c) => ({ ...c, observedGeneration: generation }));
  const status: MailDomainStatus = {
    observedGeneration: generation,
    conditions: mergeConditions(md.status?.conditions, desired, now),
    ...(facts.effective?.mode ? { effectiveExchanger: facts.effective.mode } : {}),
    ...(facts.effective ? { effectiveExchangerReason: facts.effective.reason } : {}),
    ...(active
      ? {
          dkim: {
            activeSelector: active.selector,
            ...(pending ? { pendingSelector: pending.selector } : {}),
            ...(pending && dkim?.nextTransitionAt
              ? { switchAfter: dkim.nextTransitionAt.toISOString() }
              : {}),
            ...(!pending && !retiring && dkim?.nextTransitionAt
              ? { nextRotation: dkim.nextTransitionAt.toISOString() }
              : {}),
            ...(retiring ? { retiringSelector: retiring.selector } : {}),
            ...(dkim?.secretName ? { secretName: dkim.secretName } : {}),
          },
        }
      : {}),
    ...(dnsRecords ? { dnsRecords } : {}),
  };
  const events: StatusEvent[] = [];
  const before = conditionOf(md.status?.conditions, 'Ready');
  if (before?.status !== readyCondition.status || before?.reason !== readyCondition.reason)
    events.push({
      type: ready ? 'Normal' : 'Warning',
      reason: readyCondition.reason,
      message: readyCondition.message,
    });
  const rotationBefore = conditionOf(md.status?.conditions, 'DkimRotation');
  if (dkim?.held && rotationBefore?.reason !== 'WaitingForDns')
    events.push({ type: 'Warning', reason: 'DkimRotationHeld', message: rotationCondition.message });
  return { status, events };
}
