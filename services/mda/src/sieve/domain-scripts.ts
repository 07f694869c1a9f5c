import type { Pool } from '@hermod/db';
import type { DomainConfig } from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import {
  compileDomainScripts,
  ownedGlobalDomains,
  replaceOwnedGlobalScripts,
  SieveScriptError,
} from '@hermod/sieve-store';

/** What the sync needs of the live domain configuration (DomainConfigStore). */
export interface DomainConfigView {
  get(domain: string): DomainConfig | undefined;
  all(): DomainConfig[];
}

/**
 * Stores the global Sieve scripts MailDomains set (spec.sieve, carried by the live domain config)
 * where delivery loads every global script from (@hermod/sieve-store), so delivery, `include
 * :global` and the CLI see one set. Level-based: a domain is brought to what its current config
 * says whenever it changed (and every domain once at start); a failed store is tried again on the
 * next pass, a script that does not compile is logged and leaves the stored scripts as they were.
 */
export class DomainScriptSync {
  private readonly dirty = new Set<string>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly domains: DomainConfigView,
    private readonly logger: Logger,
  ) {}

  /** Every configured domain, and every domain a MailDomain set scripts for before. */
  async markAll(): Promise<void> {
    for (const config of this.domains.all()) this.dirty.add(config.domain);
    for (const domain of await ownedGlobalDomains(this.pool)) this.dirty.add(domain);
  }

  /** A domain's config changed: bring its scripts in line (now, or after the pass in progress). */
  changed(domain: string): void {
    this.dirty.add(domain.toLowerCase());
    void this.pass();
  }

  /** Syncs the domains marked so far; resolves when they are done (or failed and stay marked). */
  pass(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    const failed: string[] = [];
    while (this.dirty.size > 0) {
      const domain = this.dirty.values().next().value!;
      this.dirty.delete(domain);
      try {
        await this.sync(domain);
      } catch (error) {
        failed.push(domain);
        this.logger.warn({ err: error, domain }, 'storing global sieve scripts failed; will retry');
      }
    }
    for (const domain of failed) this.dirty.add(domain);
  }

  private async sync(domain: string): Promise<void> {
    const config = this.domains.get(domain);
    if (!config?.sieve) {
      if (await replaceOwnedGlobalScripts(this.pool, domain, undefined))
        this.logger.info({ domain }, 'global sieve scripts no longer set by a MailDomain');
      return;
    }
    let scripts: ReturnType<typeof compileDomainScripts>;
    try {
      scripts = compileDomainScripts(domain, config.sieve);
    } catch (error) {
      if (!(error instanceof SieveScriptError)) throw error;
      this.logger.error({ domain, source: config.source, err: error }, 'global sieve scripts do not compile');
      return;
    }
    if (await replaceOwnedGlobalScripts(this.pool, domain, { owner: config.source, scripts }))
      this.logger.info(
        { domain, source: config.source, scripts: scripts.map((s) => `${s.phase}:${s.name}`) },
        'global sieve scripts stored',
      );
  }
}
