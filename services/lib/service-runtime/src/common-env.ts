import { env } from '@hermod/config';
import { z } from 'zod';

/** Variables every service reads; each service extends this with its own. */
export const commonEnv = {
  LOG_LEVEL: env.logLevel(),
  OPS_HOST: env.host('0.0.0.0'),
  OPS_PORT: env.port(9090),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  NATS_STREAM_REPLICAS: env.int(1, 1, 5),
  SHUTDOWN_GRACE_MS: env.int(25_000, 0, 600_000),
};
