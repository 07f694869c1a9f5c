import type { Pool } from '@hermod/db';
import { acceptMessage, deterministicUuid } from '@hermod/spool';
import { buildDsn, type DsnInput } from './build-dsn.js';

export interface DsnSender {
  pool: Pool;
  /** Hands the accepted notice to routing (publishJob on subjects.routing). */
  publishRouting: (spoolId: string) => Promise<void>;
}

export { deterministicUuid };

/**
 * Injects a DSN into the spool with a null sender (it then flows through the normal pipeline, to a
 * local mailbox or outbound) and asks routing for it. `eventKey` names the failure or delay; the
 * same key never produces a second notice. Returns false when the notice already existed.
 */
export async function sendDsn(deps: DsnSender, eventKey: string, input: DsnInput): Promise<boolean> {
  if (input.to === '') return false; // never a notice to the null sender
  const spoolId = deterministicUuid(`hermod-dsn:${eventKey}`);
  let created = true;
  try {
    await acceptMessage(deps.pool, {
      spoolId,
      mailFrom: '',
      recipients: [{ address: input.to }],
      source: 'local',
      envelope: { dsnFor: eventKey },
      body: [buildDsn(input)],
    });
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    created = false;
  }
  // Published again on a repeat too: the first publish may be the thing that was lost.
  await deps.publishRouting(spoolId);
  return created;
}
