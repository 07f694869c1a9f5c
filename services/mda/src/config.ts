import { env, loadConfig } from '@hermod/config';
import { commonEnv, databaseTimeoutsEnv } from '@hermod/service-runtime';
import { z } from 'zod';

export const mdaEnv = z.object({
  ...commonEnv,
  OPS_PORT: env.port(9105),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(10, 1, 200),
  ...databaseTimeoutsEnv,
  /** Deliveries committed together in one transaction (one fsync) when they arrive together. */
  MDA_BATCH_SIZE: env.int(64, 1, 1_000),
  /** Delivery batches in flight at once; with one, deliveries arriving meanwhile form a larger next batch. */
  MDA_CONCURRENCY: env.int(1, 1, 64),
  /**
   * Under load (the last batch held several deliveries and more were waiting when it ended), how
   * long a batch short of MDA_BATCH_SIZE waits for more before it starts: fewer, larger commits for
   * a little latency; 0: never. A delivery that finds mda idle starts at once.
   */
  MDA_BATCH_LINGER_MS: env.int(25, 0, 1_000),
  /** How long a delivery to a full mailbox waits before it is tried again. */
  MDA_QUOTA_RETRY_MS: env.int(300_000, 1_000, 86_400_000),
  /** Run users' and domains' Sieve filters at delivery. */
  MDA_SIEVE_ENABLED: env.bool(true),
  /** CPU time one recipient's Sieve scripts may use together; over it the run fails and the message is kept. */
  SIEVE_TIME_BUDGET_MS: env.int(100, 1, 10_000),
  /** Most actions one Sieve run may produce (a run over it fails and the message is kept). */
  SIEVE_MAX_ACTIONS: env.int(32, 1, 1_000),
  /** Most redirects one Sieve run may make. */
  SIEVE_MAX_REDIRECTS: env.int(4, 0, 64),
  /** How often expired vacation and duplicate tracking rows are deleted. */
  SIEVE_TRACKING_PRUNE_INTERVAL_MS: env.int(3_600_000, 1_000, 86_400_000),
  /** Automatic replies (vacation, reject notices) one account's filters may send per hour; more are not sent. */
  SIEVE_AUTO_REPLIES_PER_HOUR: env.int(100, 1, 100_000),
  /** Shortest period between vacation replies to one sender, in seconds (a shorter :seconds/:days gets it; RFC 5230 4.1). */
  SIEVE_VACATION_MIN_SECONDS: env.int(0, 0, 604_800),
  /** Longest period between vacation replies to one sender, in seconds (a longer :days gets it; at least 7 days, RFC 5230 4.1). */
  SIEVE_VACATION_MAX_SECONDS: env.int(5_184_000, 604_800, 315_360_000),
  /** Host name in the Message-IDs of vacation replies and reject notices. */
  MDA_HOSTNAME: env.string('localhost'),
  /** Secret of the Sender Rewriting Scheme for Sieve redirects (the same as routing's ROUTING_SRS_SECRET); empty: no SRS. */
  MDA_SRS_SECRET: z.string().default(''),
  /** Domain of rewritten senders; empty: the recipient's domain. */
  MDA_SRS_DOMAIN: z.string().default(''),
  /**
   * Recipients whose delivered mail is read for DMARC aggregate and TLS-RPT reports (the rua of our
   * own domains): local parts (`postmaster`, in every domain) or whole addresses; empty: none.
   */
  MDA_REPORT_ADDRESSES: env.list(['postmaster']),
  /** Largest message read for reports; a larger one is delivered and counted as a failure (too-large). */
  MDA_REPORT_MAX_MESSAGE_BYTES: env.int(10 * 1024 * 1024, 1_024, 1024 * 1024 * 1024),
  /** Largest report file after decompression (XML or JSON); beyond it reading stops (zip bombs). */
  MDA_REPORT_MAX_FILE_BYTES: env.int(10 * 1024 * 1024, 1_024, 1024 * 1024 * 1024),
  /** Most records one report may carry (parsed on mda's event loop in slices: 10,000 take about 2 s). */
  MDA_REPORT_MAX_RECORDS: env.int(10_000, 1, 10_000_000),
  /** Delivered messages waiting to be read for reports; past it new ones are skipped (logged, counted). */
  MDA_REPORT_QUEUE: env.int(1_000, 1, 100_000),
});
export type MdaConfig = z.infer<typeof mdaEnv>;

export const loadMdaConfig = (source: NodeJS.ProcessEnv = process.env): MdaConfig =>
  loadConfig('mda', mdaEnv, source);
