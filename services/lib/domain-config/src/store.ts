import type { Logger } from '@hermod/logging';
import type { JetStreamClient, KV, NatsConnection } from 'nats';
import { type DomainConfig, parseDomainConfig } from './schema.js';

export const DOMAIN_BUCKET = 'hermod-domains';

// KV keys may not contain every character of a domain name in every position; dots are fine.
const keyOf = (domain: string): string => domain.toLowerCase();

export async function openDomainBucket(js: JetStreamClient, replicas = 1): Promise<KV> {
  return js.views.kv(DOMAIN_BUCKET, { history: 5, replicas });
}

export async function writeDomainConfig(kv: KV, config: DomainConfig): Promise<void> {
  const valid = parseDomainConfig(config);
  await kv.put(keyOf(valid.domain), JSON.stringify(valid));
}

/** Writes a new domain's config; false (nothing written) when the domain already exists. */
export async function createDomainConfig(kv: KV, config: DomainConfig): Promise<boolean> {
  const valid = parseDomainConfig(config);
  try {
    await kv.create(keyOf(valid.domain), JSON.stringify(valid));
    return true;
  } catch (error) {
    if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
    throw error;
  }
}

/**
 * Read-modify-write of one domain's config with a revision check, retried when someone else wrote
 * meanwhile; undefined when there is no such domain.
 */
export async function updateDomainConfig(
  kv: KV,
  domain: string,
  change: (config: DomainConfig) => DomainConfig,
): Promise<DomainConfig | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get(keyOf(domain));
    if (entry?.operation !== 'PUT') return undefined;
    const next = parseDomainConfig({
      ...change(parseDomainConfig(entry.json())),
      updatedAt: new Date().toISOString(),
    });
    try {
      await kv.update(keyOf(domain), JSON.stringify(next), entry.revision);
      return next;
    } catch (error) {
      if (!/wrong last sequence/i.test((error as Error).message)) throw error;
    }
  }
  throw new Error(`domain ${domain} keeps changing; try again`);
}

export async function deleteDomainConfig(kv: KV, domain: string): Promise<void> {
  await kv.delete(keyOf(domain));
}

/** One domain's live config, or undefined when the domain is not served. */
export async function readDomainConfig(kv: KV, domain: string): Promise<DomainConfig | undefined> {
  const entry = await kv.get(keyOf(domain));
  return entry && entry.operation === 'PUT' ? parseDomainConfig(entry.json()) : undefined;
}

export async function listDomainConfigs(kv: KV): Promise<DomainConfig[]> {
  // All keys first: a get awaited inside the keys iterator ends it after the first key.
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  const out: DomainConfig[] = [];
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry && entry.operation === 'PUT') out.push(parseDomainConfig(entry.json()));
  }
  return out.sort((a, b) => a.domain.localeCompare(b.domain));
}

/**
 * An in-memory view of every domain's live config, kept current by a KV watch, so a changed domain
 * takes effect in every replica within moments and without a restart. `ready` resolves once the
 * initial contents are loaded.
 */
export class DomainConfigStore {
  private readonly domains = new Map<string, DomainConfig>();
  private readonly listeners = new Set<(domain: string, config: DomainConfig | undefined) => void>();
  private stopped = false;
  private watcher: { stop(): void } | undefined;
  readonly ready: Promise<void>;

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {
    this.ready = this.watch();
  }

  get(domain: string): DomainConfig | undefined {
    return this.domains.get(domain.toLowerCase());
  }

  all(): DomainConfig[] {
    return [...this.domains.values()];
  }

  onChange(listener: (domain: string, config: DomainConfig | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
  }

  private async watch(): Promise<void> {
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    const run = async (): Promise<void> => {
      while (!this.stopped) {
        try {
          const iterator = await this.kv.watch({ initializedFn: () => resolveReady() });
          this.watcher = iterator;
          for await (const entry of iterator) {
            if (entry.operation === 'PUT') {
              try {
                const config = parseDomainConfig(entry.json());
                this.domains.set(entry.key, config);
                this.emit(entry.key, config);
              } catch (error) {
                this.logger.error({ err: error, domain: entry.key }, 'ignoring invalid domain config');
              }
            } else {
              this.domains.delete(entry.key);
              this.emit(entry.key, undefined);
            }
          }
        } catch (error) {
          if (!this.stopped) this.logger.warn({ err: error }, 'domain config watch interrupted; rewatching');
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    };
    void run();
    return ready;
  }

  private emit(domain: string, config: DomainConfig | undefined): void {
    for (const listener of this.listeners) listener(domain, config);
  }
}

export type { NatsConnection };

/**
 * A service's live view of every domain (DomainConfigStore over the bucket), stopped at shutdown and
 * loaded before it resolves: what msa, mx, routing, mda and outbound-mta each open at start.
 */
export async function openDomainConfig(
  js: JetStreamClient,
  replicas: number,
  service: { logger: Logger; shutdown: { register(name: string, hook: () => void): void } },
): Promise<DomainConfigStore> {
  const domains = new DomainConfigStore(await openDomainBucket(js, replicas), service.logger);
  service.shutdown.register('domain-config', () => domains.stop());
  await domains.ready;
  return domains;
}
