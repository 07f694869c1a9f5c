import { env } from '@hermod/config';
import { z } from 'zod';

const clamdAddress = z
  .string()
  .regex(/^(\/.+|\[?[0-9A-Za-z.:-]+\]?:\d{1,5})$/, 'expected host:port or an absolute unix socket path')
  .or(z.literal(''));

/** The malware scanner's variables, shared by msa and mx (each service spreads them into its schema). */
export const malwareScanEnv = {
  /** clamd's INSTREAM socket: host:port (TCPSocket) or an absolute path (LocalSocket); empty = no malware scanning. */
  CLAMD_ADDRESS: clamdAddress.default(''),
  /** How long clamd may take to give its verdict after the end of DATA (and to take data while it arrives); past it the scan fails as 'timeout' (CLAMD_FAIL_MODE applies). A slow client does not count. */
  CLAMD_TIMEOUT_MS: env.int(30_000, 100, 600_000),
  /** Messages streamed to clamd at once per replica (and clamd sessions kept open between messages); later ones are scanned from their spooled copy when a stream frees, within CLAMD_TIMEOUT_MS. */
  CLAMD_MAX_CONCURRENT: env.int(16, 1, 1_000),
  /** Larger messages are accepted unscanned and marked (X-Virus-Scanned: ...unscanned (too large)); keep it at or below clamd's StreamMaxLength. */
  MALWARE_SCAN_MAX_BYTES: env.int(25 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** clamd unreachable, slow or failing: tempfail = 451 4.7.1, open = accept and mark the message unscanned. */
  CLAMD_FAIL_MODE: z.enum(['tempfail', 'open']).default('tempfail'),
};
