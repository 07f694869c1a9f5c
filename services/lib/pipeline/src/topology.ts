import { type ConsumerDefinition, ensureConsumer, ensureStream, type StreamDefinition } from '@hermod/nats';
import type { JetStreamManager } from 'nats';

/**
 * The asynchronous pipeline. Jobs carry ids only: the spool in PostgreSQL is the system of record,
 * so a job lost with nats-server is re-published by the spool sweeper, and a duplicate is harmless.
 */
export const subjects = {
  routing: 'hermod.pipeline.routing',
  localDelivery: 'hermod.pipeline.deliver.local',
  outbound: 'hermod.pipeline.outbound',
} as const;

export const streams = {
  routing: { name: 'HERMOD_ROUTING', subjects: [subjects.routing], retention: 'workqueue' },
  localDelivery: {
    name: 'HERMOD_LOCAL_DELIVERY',
    subjects: [subjects.localDelivery],
    retention: 'workqueue',
  },
  outbound: { name: 'HERMOD_OUTBOUND', subjects: [subjects.outbound], retention: 'workqueue' },
} as const satisfies Record<string, StreamDefinition>;

export const consumers = {
  routing: { stream: streams.routing.name, durable: 'routing', ackWaitMs: 30_000 },
  mda: { stream: streams.localDelivery.name, durable: 'mda', ackWaitMs: 60_000, maxAckPending: 2_000 },
  outboundMta: { stream: streams.outbound.name, durable: 'outbound-mta', ackWaitMs: 300_000 },
} as const satisfies Record<string, ConsumerDefinition>;

/** Creates or updates the streams and consumers; every service calls it at start-up (idempotent). */
export async function setupPipeline(jsm: JetStreamManager, replicas = 1): Promise<void> {
  for (const def of Object.values(streams))
    await ensureStream(jsm, { ...def, subjects: [...def.subjects], replicas });
  for (const def of Object.values(consumers)) await ensureConsumer(jsm, def);
}
