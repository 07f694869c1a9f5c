import type { Logger } from '@hermod/logging';
import { controllerReference, type DnsRecordStatus, type MailDomain } from '../api/v1alpha1/maildomain.js';
import { KubeApiError } from '../kube/errors.js';
import type { KubeClient } from '../kube/kube-client.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from './maildomain-reconciler.js';

/** external-dns's CRD (sigs.k8s.io/external-dns, endpoint/v1alpha1): we write it, external-dns publishes it. */
export const DNS_ENDPOINT_API_VERSION = 'externaldns.k8s.io/v1alpha1';
export const DNS_ENDPOINT_KIND = 'DNSEndpoint';

export interface DnsEndpointObject {
  apiVersion: typeof DNS_ENDPOINT_API_VERSION;
  kind: typeof DNS_ENDPOINT_KIND;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }>;
  };
  spec: { endpoints: Array<{ dnsName: string; recordType: string; targets: string[]; recordTTL: number }> };
}

export const dnsEndpointNameOf = (md: MailDomain): string => `${md.metadata.name}-dns`;
const endpointPath = (namespace: string, name?: string) =>
  `/apis/${DNS_ENDPOINT_API_VERSION}/namespaces/${namespace}/dnsendpoints${name ? `/${name}` : ''}`;

/**
 * A record's data as external-dns takes it as a target: host names without the root dot; TXT in
 * zone-file form, quoted character-strings of at most 255 octets (the form external-dns's own TXT
 * registry records take). Unquoted, external-dns's RFC 2136 provider parses the text as a zone-file
 * line: each space starts a new string and `;` a comment, so "v=DMARC1; p=..." is published as "v=DMARC1".
 */
function targetOf(record: DnsRecordStatus): string {
  if (record.type === 'CNAME') return record.value.replace(/\.$/, '');
  if (record.type === 'MX' || record.type === 'SRV') return record.value.replace(/\.$/, '');
  if (record.type === 'TXT') return quotedTxt(record.value);
  return record.value;
}

function quotedTxt(text: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += 255) chunks.push(text.slice(i, i + 255));
  return chunks.map((c) => `"${c.replace(/["\\]/g, '\\$&')}"`).join(' ');
}

/**
 * The DNSEndpoint a MailDomain stands for: every record of status.dnsRecords, one endpoint per
 * (name, type) with all its targets (MX hosts, DKIM selectors with the pending one, ...), owned by
 * the MailDomain so it goes when the MailDomain does. Pure: same records, same object.
 */
export function desiredDnsEndpoint(
  md: MailDomain,
  records: DnsRecordStatus[],
  ttlSeconds: number,
): DnsEndpointObject {
  const grouped = new Map<string, { dnsName: string; recordType: string; targets: string[] }>();
  for (const record of records) {
    const key = `${record.name} ${record.type}`;
    let endpoint = grouped.get(key);
    if (!endpoint) {
      endpoint = { dnsName: record.name, recordType: record.type, targets: [] };
      grouped.set(key, endpoint);
    }
    const target = targetOf(record);
    if (!endpoint.targets.includes(target)) endpoint.targets.push(target);
  }
  return {
    apiVersion: DNS_ENDPOINT_API_VERSION,
    kind: DNS_ENDPOINT_KIND,
    metadata: {
      name: dnsEndpointNameOf(md),
      namespace: md.metadata.namespace ?? 'default',
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        'mail.hermod.dev/maildomain': md.metadata.name,
      },
      ownerReferences: [controllerReference(md)],
    },
    spec: {
      endpoints: [...grouped.values()]
        .sort((a, b) => `${a.dnsName} ${a.recordType}`.localeCompare(`${b.dnsName} ${b.recordType}`))
        .map((e) => ({ ...e, targets: [...e.targets].sort(), recordTTL: ttlSeconds })),
    },
  };
}

/**
 * Level-based: with spec.dns.provider externalDNS the MailDomain's DNSEndpoint is applied
 * (server-side apply, our field manager: idempotent, a no-op when nothing changed); otherwise one
 * we wrote earlier is deleted. Which exist is learnt once per process by listing ours (one
 * request, 404 when external-dns's CRD is not installed), so a domain that never had one costs no
 * DELETE; without the RBAC to list, each is deleted once as before. A cluster without the CRD is
 * reported, not retried hot.
 */
export class DnsEndpointWriter {
  /** Per MailDomain: whether our DNSEndpoint exists as far as we last saw (unknown after a start). */
  private readonly exists = new Map<string, boolean>();
  /** Whether `exists` knows every DNSEndpoint of ours (a key it lacks has none), once listed. */
  private listed: Promise<boolean> | undefined;

  constructor(
    private readonly o: { client: KubeClient; fieldManager: string; logger: Logger; ttlSeconds: number },
  ) {}

  /** Drops what was learnt (a new leadership term: another leader may have changed them). */
  forget(): void {
    this.exists.clear();
    this.listed = undefined;
  }

  async sync(md: MailDomain, records: DnsRecordStatus[]): Promise<'applied' | 'deleted' | 'none' | 'no-crd'> {
    const namespace = md.metadata.namespace ?? 'default';
    const name = dnsEndpointNameOf(md);
    const key = `${namespace}/${name}`;
    if (md.spec.dns.provider !== 'externalDNS') {
      // Once known gone, not asked again on every reconcile.
      if (this.exists.get(key) === false) return 'none';
      if (this.exists.get(key) === undefined && (await this.listOurs())) {
        this.exists.set(key, false);
        return 'none';
      }
      try {
        const deleted = await this.o.client.delete(endpointPath(namespace, name));
        this.exists.set(key, false);
        return deleted ? 'deleted' : 'none';
      } catch (error) {
        // No CRD: nothing of ours can exist.
        if (error instanceof KubeApiError && error.notFound) {
          this.exists.set(key, false);
          return 'none';
        }
        throw error;
      }
    }
    try {
      await this.o.client.apply(
        endpointPath(namespace, name),
        desiredDnsEndpoint(md, records, this.o.ttlSeconds),
        this.o.fieldManager,
      );
      this.exists.set(key, true);
      return 'applied';
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) {
        this.o.logger.warn(
          { mailDomain: `${namespace}/${md.metadata.name}` },
          'spec.dns.provider is externalDNS but the DNSEndpoint CRD (externaldns.k8s.io/v1alpha1) is not installed',
        );
        return 'no-crd';
      }
      throw error;
    }
  }

  /**
   * Lists our DNSEndpoints in every namespace once (retried after a failure) and records them in
   * `exists`, without overriding what an apply or delete of ours has recorded since. False when
   * the list is not allowed (RBAC from before list was granted): the caller deletes as before.
   */
  private listOurs(): Promise<boolean> {
    this.listed ??= this.o.client
      .list<{ items: Array<{ metadata: { name: string; namespace?: string } }> }>(
        `/apis/${DNS_ENDPOINT_API_VERSION}/dnsendpoints`,
        { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` },
      )
      .then(
        (list) => {
          for (const item of list.items) {
            const key = `${item.metadata.namespace ?? 'default'}/${item.metadata.name}`;
            if (!this.exists.has(key)) this.exists.set(key, true);
          }
          return true;
        },
        (error: unknown) => {
          // No CRD: nothing of ours can exist.
          if (error instanceof KubeApiError && error.notFound) return true;
          if (error instanceof KubeApiError && error.statusCode === 403) {
            this.o.logger.warn(
              'listing DNSEndpoints is not allowed (operator RBAC without list): each is deleted once per start instead',
            );
            return false;
          }
          this.listed = undefined;
          throw error;
        },
      );
    return this.listed;
  }
}
