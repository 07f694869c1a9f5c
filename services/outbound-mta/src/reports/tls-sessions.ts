import type { Pool } from '@hermod/db';
import { recordTlsSessions, type TlsPolicyDescription, type TlsSessionCount } from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';
import { PeriodicPass } from '@hermod/spool';
import type { TlsaRecord } from '../tls/dane.js';
import type { MtaStsPolicy } from '../tls/mta-sts.js';

/** One TLS session outcome for SMTP TLS Reporting (RFC 8460): a success, or a failure of a kind. */
export type TlsSessionResult = Omit<TlsSessionCount, 'at' | 'sessions'>;

/** The RFC 8460 policy of a session: DANE's TLSA records, the MTA-STS policy, or none. */
export function tlsPolicyDescription(
  dane: TlsaRecord[] | 'unusable' | 'lookup-failed' | undefined,
  sts: MtaStsPolicy | undefined,
): TlsPolicyDescription {
  if (dane)
    return {
      type: 'tlsa',
      strings: Array.isArray(dane)
        ? dane.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`)
        : [],
      mxHosts: [],
    };
  if (sts && sts.mode !== 'none')
    return {
      type: 'sts',
      strings: [
        'version: STSv1',
        `mode: ${sts.mode}`,
        ...sts.mx.map((m) => `mx: ${m}`),
        `max_age: ${sts.maxAgeSeconds}`,
      ],
      mxHosts: sts.mx,
    };
  return { type: 'no-policy-found', strings: [], mxHosts: [] };
}

/**
 * Counts TLS session results in memory and adds them to PostgreSQL every interval (and at stop)
 * in one statement: one row per policy domain, period and kind, whatever the volume. Counts of a
 * replica killed between two flushes are lost; reports are statistics, not a ledger.
 */
export class TlsSessionRecorder {
  private counts = new Map<string, TlsSessionCount>();
  private readonly pass: PeriodicPass;

  constructor(
    private readonly pool: Pool,
    private readonly periodSeconds: number,
    intervalMs: number,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.pass = new PeriodicPass(
      () => this.flush(),
      intervalMs,
      (error) => logger.warn({ err: error }, 'recording TLS report counts failed'),
    );
  }

  record(result: TlsSessionResult): void {
    const at = new Date(this.now());
    const period = Math.floor(at.getTime() / 1000 / this.periodSeconds);
    const key = JSON.stringify([
      result.policyDomain,
      period,
      result.policy,
      result.resultType ?? '',
      result.receivingMxHostname ?? '',
      result.receivingIp ?? '',
    ]);
    const existing = this.counts.get(key);
    if (existing) existing.sessions += 1;
    else this.counts.set(key, { ...result, at, sessions: 1 });
  }

  async flush(): Promise<void> {
    if (this.counts.size === 0) return;
    const rows = [...this.counts.values()];
    this.counts = new Map();
    await recordTlsSessions(this.pool, rows, this.periodSeconds);
  }

  start(): void {
    this.pass.start();
  }

  async stop(): Promise<void> {
    await this.pass.stop();
    await this.flush();
  }
}
