import type { Pool } from '@hermod/db';
import { type DomainConfigStore, onRoutingInputsChange, openDomainStatusBucket } from '@hermod/domain-config';
import { onReconnect } from '@hermod/nats';
import { type AcceptedMessage, handOverAccepted } from '@hermod/pipeline';
import type { routingV1 } from '@hermod/proto';
import type { Bus, ServiceBase } from '@hermod/service-runtime';
import { AcceptBatcher, type ReplayableAccept } from '@hermod/spool';
import { commitPhases, type ObservePhase } from './phase-timing.js';
import { cachedValidator, RecipientCache } from './recipient-cache.js';
import { routingRecipientClient, type ValidateRecipient } from './routing-recipient-check.js';

/**
 * Routing's recipient decision as msa and mx ask it at RCPT: one gRPC client (closed at shutdown),
 * acceptances remembered for cacheMs and forgotten as soon as a domain's configuration or status
 * changes (an answer also names the local mailbox a message is routed to at accept time).
 */
export async function openRecipientValidation(
  base: ServiceBase,
  bus: Pick<Bus, 'js'>,
  domains: DomainConfigStore,
  options: { routingAddress: string; timeoutMs: number; cacheMs: number; replicas: number },
): Promise<ValidateRecipient> {
  const { logger, shutdown } = base;
  const routing = routingRecipientClient(options.routingAddress, options.timeoutMs);
  shutdown.register('routing-client', () => routing.close());
  const cache = new RecipientCache<routingV1.ValidateRecipientResponse>(options.cacheMs);
  const routingChanges = onRoutingInputsChange(
    domains,
    await openDomainStatusBucket(bus.js, options.replicas),
    logger,
    () => cache.clear(),
  );
  shutdown.register('routing-changes', () => routingChanges.stop());
  return cachedValidator(routing.validate, cache);
}

/** The durable accept of msa and mx, and the hand-over of what it committed. */
export interface AcceptPath {
  /** Makes a message durable (group commit); resolves once committed. */
  accept(input: ReplayableAccept): Promise<void>;
  /** Publishes the jobs of committed messages (also for messages committed another way). */
  handOver(committed: AcceptedMessage[]): void;
}

/**
 * The accept of msa and mx: messages group-committed into the spool (AcceptBatcher, up to 32 per
 * statement, maxTransactions at once), then their jobs handed over to routing or mda. A job that
 * cannot be published is durable already: it is published again as soon as the NATS connection is
 * back (the spool sweeper is the net).
 */
export function openAcceptPath(
  base: ServiceBase,
  pool: Pool,
  bus: Pick<Bus, 'nc' | 'js' | 'connected'>,
  options: { maxTransactions: number; phases: ObservePhase },
): AcceptPath {
  const { logger } = base;
  const handOver = handOverAccepted(
    bus.js,
    (error, spoolIds) =>
      logger.warn({ err: error, spoolIds }, 'job not published; published again when nats-server is back'),
    { connected: bus.connected, reconnected: (listener) => onReconnect(bus.nc, listener) },
  );
  const batcher = new AcceptBatcher(pool, {
    maxBatch: 32,
    maxTransactions: options.maxTransactions,
    afterCommit: handOver,
    onWrite: commitPhases(options.phases),
  });
  return { accept: (input) => batcher.accept(input), handOver };
}
