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
 * Injects a message Hermod itself writes (DSNs, reports) into the spool as a local message (it then
 * flows through the normal pipeline, to a local mailbox or outbound) and asks routing for it. `key`
 * names the event; the same key never produces a second message. Returns false when it already
 * existed.
 */
export async function injectLocalMessage(
  deps: DsnSender,
  key: string,
  message: { mailFrom: string; to: string; body: Buffer; envelope?: Record<string, unknown> },
): Promise<boolean> {
  const spoolId = deterministicUuid(key);
  let created = true;
  try {
    await acceptMessage(deps.pool, {
      spoolId,
      mailFrom: message.mailFrom,
      recipients: [{ address: message.to }],
      source: 'local',
      ...(message.envelope ? { envelope: message.envelope } : {}),
      body: [message.body],
    });
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    created = false;
  }
  // Published again on a repeat too: the first publish may be the thing that was lost.
  await deps.publishRouting(spoolId);
  return created;
}

/** A DSN with a null sender; `eventKey` names the failure or delay. Returns false when the notice already existed. */
export async function sendDsn(deps: DsnSender, eventKey: string, input: DsnInput): Promise<boolean> {
  if (input.to === '') return false; // never a notice to the null sender
  return injectLocalMessage(deps, `hermod-dsn:${eventKey}`, {
    mailFrom: '',
    to: input.to,
    envelope: { dsnFor: eventKey },
    body: buildDsn(input),
  });
}
