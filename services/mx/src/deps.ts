import type { RspamdClient } from '@hermod/content-scan';
import type { Pool } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { PolicySet } from '@hermod/policy-rules';
import type {
  BodyScan,
  ObservePhase,
  QuarantineRequest,
  RecipientRoutes,
  RecordRefusal,
  ValidateRecipient,
} from '@hermod/smtp';
import type { ReplayableAccept } from '@hermod/spool';
import type { Counter, Histogram } from 'prom-client';
import type { SMTPServerSession } from 'smtp-server';
import type { MxConfig } from './config.js';
import type { ClientLimits } from './policy/client-limits.js';
import type { DmarcRecorder } from './policy/dmarc-recorder.js';
import type { DnsResolve } from './policy/dns-resolver.js';

/** Everything the SMTP hooks use, built in main.ts. */
export interface MxDeps {
  config: MxConfig;
  logger: Logger;
  pool: Pool;
  validateRecipient: ValidateRecipient;
  /** Routing's local destinations of accepted recipients, for routing at accept time. */
  recipientRoutes: RecipientRoutes;
  /** Makes an accepted message durable (group-committed) and hands it on (to mda when routed at accept, else to routing); resolves only after its commit. */
  accept(input: ReplayableAccept): Promise<void>;
  resolve: DnsResolve;
  limits: ClientLimits;
  rspamd?: RspamdClient;
  /** Starts the malware scan of a message as DATA begins (clamd; absent when CLAMD_ADDRESS is empty). */
  scanMalware?: (session: SMTPServerSession, spoolId: string) => BodyScan;
  /** Holds a message a disposition quarantines (@hermod/quarantine), with its notice. */
  quarantine(request: QuarantineRequest): Promise<void>;
  /** Where RCPT TO:<Postmaster> goes (RFC 5321 4.5.1). */
  postmaster: string;
  /** Counts (hermod_mx_rejections_total) and logs a refused command. */
  refused: RecordRefusal;
  /** Keeps DMARC evaluations for the aggregate reports (MX_DMARC_REPORTS). */
  dmarcRecorder?: DmarcRecorder;
  /** The content policy rules (global, per domain, defaults), compiled. */
  policy?: PolicySet;
  metrics: {
    messages: Counter<'outcome'>;
    acceptSeconds: Histogram;
    /** Where a transaction waits, per phase (timeSmtpHooks, the accept pipeline, the accept batcher). */
    phases: ObservePhase;
    rejections: Counter<'reason' | 'code'>;
    /** Messages a policy rule matched, by rule. */
    policyMatches?: Counter<'rule'>;
  };
}
