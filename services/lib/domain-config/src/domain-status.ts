import type { Logger } from '@hermod/logging';
import type { JetStreamClient, KV } from 'nats';
import { z } from 'zod';

/**
 * What the routing service decided for each domain in `auto` mode (from live MX records), key =
 * domain. Routing writes it; the operator copies it into MailDomain status.
 */
export const DOMAIN_STATUS_BUCKET = 'hermod-domain-status';

export const DomainStatus = z.object({
  effectiveExchanger: z.enum(['local', 'remote', 'backup']),
  /** Why, for people: e.g. "lowest-preference MX mx1.example.net points at us". */
  reason: z.string().max(1024),
  observedAt: z.string(),
});
export type DomainStatus = z.infer<typeof DomainStatus>;

export async function openDomainStatusBucket(js: JetStreamClient, replicas = 1): Promise<KV> {
  return js.views.kv(DOMAIN_STATUS_BUCKET, { history: 1, replicas });
}

export async function writeDomainStatus(kv: KV, domain: string, status: DomainStatus): Promise<void> {
  await kv.put(domain.toLowerCase(), JSON.stringify(DomainStatus.parse(status)));
}

export async function readDomainStatus(kv: KV, domain: string): Promise<DomainStatus | undefined> {
  const entry = await kv.get(domain.toLowerCase());
  if (entry?.operation !== 'PUT') return undefined;
  const parsed = DomainStatus.safeParse(entry.json());
  return parsed.success ? parsed.data : undefined;
}

export async function deleteDomainStatus(kv: KV, domain: string): Promise<void> {
  await kv.delete(domain.toLowerCase());
}

/**
 * Calls onChange(domain) for every put or delete after the current contents (which are reported
 * too), re-watching after interruptions until the returned stop() is called.
 */
export function watchDomainStatus(
  kv: KV,
  onChange: (domain: string) => void,
  logger: Logger,
): { stop(): void } {
  let stopped = false;
  let current: { stop(): void } | undefined;
  void (async () => {
    while (!stopped) {
      try {
        const iterator = await kv.watch();
        current = iterator;
        for await (const entry of iterator) onChange(entry.key);
      } catch (error) {
        if (!stopped) logger.warn({ err: error }, 'domain status watch interrupted; rewatching');
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    stop: () => {
      stopped = true;
      current?.stop();
    },
  };
}
