/** Core NATS subject that makes every replica scan the queue at once (CLI retry/release). */
export const OUTBOUND_WAKE_SUBJECT = 'hermod.outbound.wake';
