import type { Pool } from '@hermod/db';
import {
  examineMessage,
  type FoundReport,
  type ReportLimits,
  storeReceivedReports,
} from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';
import { readBodies } from '@hermod/mail-store';
import { loadRecipientAddresses, loadSpoolMessages } from '@hermod/spool';
import type { ReportMetrics } from './metrics.js';

export interface ReportIntakeOptions {
  /** Local parts (any domain) or whole addresses whose mail is read for reports; lower case. */
  addresses: readonly string[];
  maxMessageBytes: number;
  limits: ReportLimits;
  /** Most spool ids waiting to be read. */
  queueLimit: number;
}

/** Organisation names become label values: bounded in length, one line. */
const orgLabel = (org: string) => org.replace(/\s+/g, ' ').trim().slice(0, 64) || 'unknown';

/**
 * Reads the reports that arrive at our own rua addresses, after delivery and off its path: the
 * delivery is committed and acknowledged first, whatever happens here. A report that cannot be read
 * is logged and counted; a redelivered message stores its reports once (keyed by spool id).
 */
export class ReportIntake {
  private readonly queue: string[] = [];
  private running: Promise<void> | undefined;
  private readonly localParts: Set<string>;
  private readonly whole: Set<string>;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly metrics: ReportMetrics,
    private readonly options: ReportIntakeOptions,
  ) {
    const lower = options.addresses.map((a) => a.toLowerCase());
    this.localParts = new Set(lower.filter((a) => !a.includes('@')));
    this.whole = new Set(lower.filter((a) => a.includes('@')));
  }

  get enabled(): boolean {
    return this.localParts.size + this.whole.size > 0;
  }

  /** Spool ids whose delivery was committed; returns at once. */
  delivered(spoolIds: readonly string[]): void {
    if (!this.enabled) return;
    for (const id of spoolIds) {
      if (this.queue.length >= this.options.queueLimit) {
        this.metrics.failures.inc({ kind: 'any', reason: 'queue-full' });
        this.logger.warn({ spoolId: id }, 'report intake queue full; message not read for reports');
        continue;
      }
      this.queue.push(id);
    }
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once everything handed over so far has been read. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private isReportAddress(address: string): boolean {
    const lower = address.toLowerCase();
    const at = lower.lastIndexOf('@');
    return this.whole.has(lower) || (at > 0 && this.localParts.has(lower.slice(0, at)));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 64);
      try {
        await this.examine(batch);
      } catch (error) {
        this.logger.warn({ err: error, spoolIds: batch }, 'reading delivered mail for reports failed');
        this.metrics.failures.inc({ kind: 'any', reason: 'error' }, batch.length);
      }
    }
  }

  private async examine(spoolIds: string[]): Promise<void> {
    // Most batches hold no report: their recipients' addresses alone say so, without loading them.
    const wanted = new Set(
      (await loadRecipientAddresses(this.pool, spoolIds))
        .filter((r) => this.isReportAddress(r.address))
        .map((r) => r.spoolId),
    );
    if (wanted.size === 0) return;
    const messages = [...(await loadSpoolMessages(this.pool, [...wanted])).values()];
    for (const message of messages) {
      if (message.size > this.options.maxMessageBytes) {
        this.metrics.failures.inc({ kind: 'any', reason: 'too-large' });
        this.logger.warn(
          { spoolId: message.id, size: message.size },
          'message at a report address too large to read',
        );
        continue;
      }
      const raw = (await readBodies(this.pool, [message.bodyId])).get(message.bodyId);
      if (!raw) continue;
      const found = await examineMessage(raw, this.options.limits);
      for (const f of found.failures) {
        this.metrics.failures.inc({ kind: f.kind, reason: f.reason });
        this.logger.warn(
          { spoolId: message.id, part: f.part, kind: f.kind, reason: f.reason, problem: f.message },
          'received report could not be read; the message was delivered',
        );
      }
      if (found.reports.length === 0) continue;
      this.count(await storeReceivedReports(this.pool, message.id, found.reports));
    }
  }

  private count(stored: FoundReport[]): void {
    for (const { report } of stored) {
      const org = orgLabel(report.orgName);
      this.metrics.reports.inc({ kind: report.kind, org });
      for (const r of report.records) {
        if (report.kind === 'dmarc')
          this.metrics.dmarcMessages.inc({ org, result: r.result, disposition: r.disposition }, r.count);
        else this.metrics.tlsSessions.inc({ org, result: r.result }, r.count);
      }
      this.logger.info(
        { kind: report.kind, org: report.orgName, reportId: report.reportId, domain: report.policyDomain },
        'received report stored',
      );
    }
  }
}
