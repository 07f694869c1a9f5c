import type { AccountStore, LoginGate } from '@hermod/accounts';
import type { Pool } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { PolicySet } from '@hermod/policy-rules';
import type { routingV1 } from '@hermod/proto';
import type { BodyScan, ObservePhase, RecipientRoutes, RecordRefusal } from '@hermod/smtp';
import type { ReplayableAccept } from '@hermod/spool';
import type { Counter, Histogram } from 'prom-client';
import type { SMTPServerSession } from 'smtp-server';
import type { MsaConfig } from './config.js';
import type { OutboundFilterDeps } from './policy/outbound-filter.js';
import type { SuspensionReporter } from './sending-suspension.js';
import type { SubmissionLimits } from './submission-limits.js';

/** Everything the SMTP hooks use, built in main.ts. */
export interface MsaDeps {
  config: MsaConfig;
  logger: Logger;
  pool: Pool;
  accounts: Pick<AccountStore, 'authenticate' | 'ownsAddress' | 'maySendAs'>;
  validateRecipient(
    request: routingV1.ValidateRecipientRequest,
  ): Promise<routingV1.ValidateRecipientResponse>;
  /** Routing's local destinations of accepted recipients, for routing at accept time. */
  recipientRoutes: RecipientRoutes;
  /** Makes an accepted message durable (group commit); resolves once it is committed. */
  accept(input: ReplayableAccept): Promise<void>;
  isTrusted(address: string): boolean;
  /** Where RCPT TO:<Postmaster> goes (RFC 5321 4.5.1). */
  postmaster: string;
  /** Per-account hourly and concurrent-session limits, with overrides, and containment. */
  limits: Pick<
    SubmissionLimits,
    'policy' | 'takeMessage' | 'takeRecipient' | 'limitHit' | 'openSession' | 'closeSession'
  >;
  /** Counts, logs and notifies a suspension of sending made by containment. */
  suspended: SuspensionReporter;
  /** The throttled login path shared with imap and pop3. */
  login: Pick<LoginGate, 'login' | 'loginWithToken' | 'acceptsTokens'>;
  /** The content policy rules (outbound and both-way rules of the sender's domain, global, defaults). */
  policy?: PolicySet;
  /** Starts the malware scan of a submission as DATA begins (clamd; absent when CLAMD_ADDRESS is empty). */
  scanMalware?: (session: SMTPServerSession, spoolId: string) => BodyScan;
  /** Rspamd's outbound check, the refused-content counter and the sending-abuse hook. */
  outbound: OutboundFilterDeps;
  /** Counts and logs a refused command (see RefusalReason). */
  refused: RecordRefusal;
  metrics: {
    messages: Counter<'outcome'>;
    acceptSeconds: Histogram;
    /** Where a transaction waits, per phase (timeSmtpHooks, the accept pipeline, the accept batcher). */
    phases: ObservePhase;
    authFailures: Counter;
  };
}
