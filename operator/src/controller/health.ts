import type { KubeObject } from '../kube/informer.js';

/** Counts over every MailDomain the operator sees, for the domain-health gauges. */
export interface DomainHealth {
  total: number;
  notReady: number;
  dnsNotVerified: number;
  rotationsPending: number;
  rotationsHeld: number;
}

interface StatusShape {
  conditions?: Array<{ type: string; status: string }>;
  dkim?: { pendingSelector?: string };
}

/**
 * Pure: from the MailDomains as the cache holds them (status as last written). Not Ready counts
 * anything but Ready=True (no status yet included); DNS not verified counts DnsVerified=False
 * only (verification off is Unknown, not a failure).
 */
export function domainHealth(objects: KubeObject[]): DomainHealth {
  const health: DomainHealth = {
    total: 0,
    notReady: 0,
    dnsNotVerified: 0,
    rotationsPending: 0,
    rotationsHeld: 0,
  };
  for (const o of objects) {
    const status = (o.status ?? {}) as StatusShape;
    const cond = (type: string) => status.conditions?.find((c) => c.type === type)?.status;
    health.total += 1;
    if (cond('Ready') !== 'True') health.notReady += 1;
    if (cond('DnsVerified') === 'False') health.dnsNotVerified += 1;
    if (status.dkim?.pendingSelector) health.rotationsPending += 1;
    if (cond('DkimRotation') === 'False') health.rotationsHeld += 1;
  }
  return health;
}
