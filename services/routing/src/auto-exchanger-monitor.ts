import type { DomainConfigValue, DomainStatusValue } from '@hermod/domain-config';
import type { Logger } from '@hermod/logging';
import { decideExchanger, type EffectiveExchanger, type MxRecord } from './exchanger.js';

export interface AutoExchangerDeps {
  domains(): DomainConfigValue[];
  resolveMx(domain: string): Promise<MxRecord[]>;
  /** Our own MX host names, which the domain's MX records are compared against. */
  ourNames: string[];
  publish(domain: string, status: DomainStatusValue): Promise<void>;
  logger: Logger;
  intervalMs: number;
  now?: () => Date;
}

/**
 * Re-evaluates every `auto` domain's MX records on an interval and keeps the effective mode in
 * memory for routing decisions; each change is published (domain-status bucket) for the operator.
 * A failed lookup keeps the last decision: a DNS hiccup must not flip a domain's routing.
 */
export class AutoExchangerMonitor {
  private readonly decisions = new Map<string, { effective: EffectiveExchanger; reason: string }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: AutoExchangerDeps) {}

  effective(domain: string): { effective: EffectiveExchanger; reason: string } | undefined {
    return this.decisions.get(domain);
  }

  start(): void {
    const tick = () => {
      this.running = this.evaluateAll().then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.deps.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over the auto domains (also forgets domains no longer in auto mode). */
  async evaluateAll(): Promise<void> {
    const auto = this.deps.domains().filter((d) => d.exchanger === 'auto');
    const names = new Set(auto.map((d) => d.domain));
    for (const domain of [...this.decisions.keys()]) if (!names.has(domain)) this.decisions.delete(domain);
    await Promise.all(auto.map((d) => this.evaluate(d.domain)));
  }

  private async evaluate(domain: string): Promise<void> {
    let records: MxRecord[];
    try {
      records = await this.deps.resolveMx(domain);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') {
        this.deps.logger.warn({ err: error, domain }, 'MX lookup failed; keeping the last decision');
        return;
      }
      records = [];
    }
    const decision = decideExchanger(records, this.deps.ourNames);
    const previous = this.decisions.get(domain);
    if (previous?.effective === decision.effective && previous.reason === decision.reason) return;
    this.decisions.set(domain, decision);
    this.deps.logger.info({ domain, ...decision }, 'auto exchanger decided');
    await this.deps
      .publish(domain, {
        effectiveExchanger: decision.effective,
        reason: decision.reason,
        observedAt: (this.deps.now?.() ?? new Date()).toISOString(),
      })
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, domain }, 'domain status not published'),
      );
  }
}
