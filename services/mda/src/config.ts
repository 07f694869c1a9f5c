import { env, loadConfig } from '@hermod/config';
import { commonEnv } from '@hermod/service-runtime';
import { z } from 'zod';

export const mdaEnv = z.object({
  ...commonEnv,
  OPS_PORT: env.port(9105),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(10, 1, 200),
  /** Deliveries committed together in one transaction (one fsync) when they arrive together. */
  MDA_BATCH_SIZE: env.int(64, 1, 1_000),
  /** Delivery batches in flight at once; with one, deliveries arriving meanwhile form a larger next batch. */
  MDA_CONCURRENCY: env.int(1, 1, 64),
  /** How long a delivery to a full mailbox waits before it is tried again. */
  MDA_QUOTA_RETRY_MS: env.int(300_000, 1_000, 86_400_000),
});
export type MdaConfig = z.infer<typeof mdaEnv>;

export const loadMdaConfig = (source: NodeJS.ProcessEnv = process.env): MdaConfig =>
  loadConfig('mda', mdaEnv, source);
