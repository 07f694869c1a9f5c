import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { JobOutcome, ReceivedJob } from '@hermod/nats';
import {
  type LocalDeliveryJobPayload,
  localDestination,
  type OutboundJobPayload,
  type RoutingJobPayload,
} from '@hermod/pipeline';
import {
  loadSpoolMessage,
  loadSpoolMessages,
  markRouted,
  type RecipientState,
  type RecipientUpdate,
  type SpoolMessage,
} from '@hermod/spool';
import { traceFields } from '@hermod/telemetry';
import { SpanStatusCode, trace as traceApi } from '@opentelemetry/api';
import { type RouteTarget, type RoutingLookups, routeRecipient } from './route-recipient.js';
import { srsForward } from './srs.js';

export interface RoutingStageDeps {
  pool: Pool;
  lookups: RoutingLookups;
  logger: Logger;
  /** Our own MX names: a backup relay must never pick itself as the primary. */
  ourMxNames?: string[];
  /** The domain SRS addresses are issued in; the forwarding alias's own domain when empty. */
  srsDomain?: string;
  /** Publishes the local deliveries of a routed batch as one bundle (publishJobs). */
  publishLocalDeliveries(
    jobs: Array<{ payload: LocalDeliveryJobPayload; trace: Record<string, string> }>,
  ): Promise<void>;
  /** Publishes the outbound deliveries of a routed batch as one bundle. */
  publishOutbound(jobs: Array<{ payload: OutboundJobPayload; trace: Record<string, string> }>): Promise<void>;
  now?: () => number;
}

interface NewRecipient {
  rcptIndex: number;
  address: string;
  parameters: Record<string, string>;
  state: RecipientState;
  destination: Record<string, unknown>;
}

/** One message's routing decisions, ready to be committed and then published. */
interface RoutePlan {
  message: SpoolMessage;
  updates: RecipientUpdate[];
  added: NewRecipient[];
  local: LocalDeliveryJobPayload['recipients'];
  outbound: number[];
}

/**
 * Decides what an accepted message becomes: local mailbox deliveries and outbound deliveries
 * (remote domains, forwards, backup relays). An alias that fans out, or forwards to another
 * address, adds one spool recipient per destination. Reads only; commitPlans writes the decisions.
 */
async function planRoute(
  deps: RoutingStageDeps,
  job: RoutingJobPayload,
  loaded?: Map<string, SpoolMessage>,
): Promise<RoutePlan | JobOutcome> {
  const message = loaded ? loaded.get(job.spoolId) : await loadSpoolMessage(deps.pool, job.spoolId);
  if (!message) return { kind: 'drop', reason: `spool message ${job.spoolId} not found` };
  if (message.routedAt || message.completedAt) return { kind: 'ack' };
  const channel = message.source === 'mx' ? 'inbound' : 'submission';
  const folder = typeof message.envelope.folder === 'string' ? message.envelope.folder : undefined;
  const local: LocalDeliveryJobPayload['recipients'] = [];
  const outbound: number[] = [];
  const updates: RecipientUpdate[] = [];
  const added: NewRecipient[] = [];
  let nextIndex = Math.max(-1, ...message.recipients.map((r) => r.rcptIndex)) + 1;

  const place = (rcptIndex: number, target: RouteTarget, rule: string, recipientDomain: string) => {
    if (target.kind === 'local') {
      const destination = localDestination({ ...target, rule }, folder);
      local.push({ rcptIndex, accountId: destination.accountId, mailbox: destination.mailbox });
      return { state: 'local' as const, destination: { ...destination } };
    }
    outbound.push(rcptIndex);
    if (target.kind === 'backup')
      return {
        state: 'outbound' as const,
        destination: {
          kind: 'backup',
          domain: target.domain,
          relayHosts: target.relayHosts,
          excludeHosts: deps.ourMxNames ?? [],
          holdUntil: new Date((deps.now?.() ?? Date.now()) + target.maxHoldSeconds * 1000).toISOString(),
          rule,
        },
      };
    return {
      state: 'outbound' as const,
      destination: {
        kind: target.forwarded ? 'forward' : 'remote',
        domain: target.domain,
        relayHosts: target.relayHosts,
        rule,
        ...(target.forwarded ? { forwardedFrom: recipientDomain } : {}),
      },
    };
  };

  for (const r of message.recipients.filter((x) => x.state === 'pending')) {
    const decision = await routeRecipient(r.address, channel, deps.lookups, message.mailFrom);
    if (decision.kind === 'reject') {
      // Temporary: leave the recipient pending; the job is retried.
      if (decision.code < 500) return { kind: 'retry', delayMs: 30_000, reason: decision.message };
      updates.push({
        rcptIndex: r.rcptIndex,
        state: 'failed',
        error: `${decision.code} ${decision.enhanced} ${decision.message}`,
      });
      continue;
    }
    const domain = decision.canonical.slice(decision.canonical.lastIndexOf('@') + 1);
    const [only] = decision.targets;
    if (
      decision.targets.length === 1 &&
      only &&
      (only.kind === 'local' || only.address === decision.canonical)
    ) {
      updates.push({ rcptIndex: r.rcptIndex, ...place(r.rcptIndex, only, decision.rule, domain) });
      continue;
    }
    // Fan-out or forward: one new recipient per destination; the original is done.
    const indexes: number[] = [];
    for (const target of decision.targets) {
      const rcptIndex = nextIndex++;
      indexes.push(rcptIndex);
      const placed = place(rcptIndex, target, decision.rule, domain);
      const parameters: Record<string, string> = { expandedFrom: decision.canonical };
      if (target.kind === 'remote' && target.forwarded) {
        const secret = deps.lookups.srsSecret;
        if (secret) parameters.mailFrom = srsForward(message.mailFrom, deps.srsDomain || domain, secret);
        else
          deps.logger.warn({ spoolId: message.id }, 'forwarding without SRS: ROUTING_SRS_SECRET is not set');
      }
      added.push({ rcptIndex, address: target.address, parameters, ...placed });
    }
    updates.push({
      rcptIndex: r.rcptIndex,
      state: 'delivered',
      destination: {
        kind: 'expanded',
        rule: decision.rule,
        to: decision.targets.map((t) => t.address),
        rcptIndexes: indexes,
      },
    });
  }
  return { message, updates, added, local, outbound };
}

const routingTracer = traceApi.getTracer('hermod.routing');

const isPlan = (value: RoutePlan | JobOutcome): value is RoutePlan => 'message' in value;

/**
 * Writes the decisions of several messages, one commit for all: ONE statement (recipient states,
 * routed_at and completion together, atomic on its own), in a transaction with the new recipients
 * when aliases added some.
 */
async function commitPlans(pool: Pool, plans: RoutePlan[]): Promise<void> {
  const updates = plans.flatMap((p) => p.updates.map((u) => ({ ...u, spoolId: p.message.id })));
  const ids = plans.map((p) => p.message.id);
  if (plans.every((p) => p.added.length === 0)) {
    await markRouted(pool, updates, ids);
    return;
  }
  await withTransaction(pool, async (client) => {
    for (const plan of plans) await insertRecipients(client, plan.message, plan.added);
    await markRouted(client, updates, ids);
  });
}

async function insertRecipients(
  client: PoolClient,
  message: SpoolMessage,
  rows: NewRecipient[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO spool_recipients (spool_id, rcpt_index, address, parameters, state, destination)
     SELECT $1, i, a, p::jsonb, s, d::jsonb FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(i, a, p, s, d)
     ON CONFLICT (spool_id, rcpt_index) DO NOTHING`,
    [
      message.id,
      rows.map((r) => r.rcptIndex),
      rows.map((r) => r.address),
      rows.map((r) => JSON.stringify(r.parameters)),
      rows.map((r) => r.state),
      rows.map((r) => JSON.stringify(r.destination)),
    ],
  );
}

const retryLater =
  (deps: RoutingStageDeps, spoolId: string) =>
  (error: unknown): JobOutcome => {
    deps.logger.warn({ err: error, spoolId }, 'routing failed; will retry');
    return { kind: 'retry', delayMs: 2_000, reason: (error as Error).message };
  };

/**
 * Batch adapter for consumeJobs: messages are planned concurrently and their decisions committed in
 * ONE transaction (one WAL flush for the batch instead of one per message). If that transaction
 * fails, each message is committed on its own, so one bad message never holds back the others.
 */
export async function routeBatch(
  deps: RoutingStageDeps,
  jobs: ReceivedJob<RoutingJobPayload>[],
): Promise<JobOutcome[]> {
  const seen = new Set<string>();
  // Every message of the batch in one statement; if that fails, each is loaded on its own.
  const loaded = await loadSpoolMessages(
    deps.pool,
    jobs.map((j) => j.payload.spoolId),
  ).catch(() => undefined);
  // One span per message, a child of the accepting service's span; the jobs it publishes carry it on.
  const spans = jobs.map((job) =>
    routingTracer.startSpan(
      'routing.route',
      { attributes: { 'hermod.spool_id': job.payload.spoolId } },
      job.traceContext,
    ),
  );
  const planned = await Promise.all(
    jobs.map(async (job): Promise<RoutePlan | JobOutcome> => {
      // The same message twice in one batch (a redelivery): the first one routes it.
      if (seen.has(job.payload.spoolId)) return { kind: 'ack' };
      seen.add(job.payload.spoolId);
      return planRoute(deps, job.payload, loaded).catch(retryLater(deps, job.payload.spoolId));
    }),
  );
  const plans = planned.filter(isPlan);
  const committedTogether =
    plans.length > 1 &&
    (await commitPlans(deps.pool, plans).then(
      () => true,
      (error: unknown) => {
        deps.logger.warn(
          { err: error, messages: plans.length },
          'batch commit failed; committing one by one',
        );
        return false;
      },
    ));
  const outcomes = await Promise.all(
    planned.map(async (p): Promise<RoutePlan | JobOutcome> => {
      if (!isPlan(p) || committedTogether) return p;
      return commitPlans(deps.pool, [p]).then(() => p, retryLater(deps, p.message.id));
    }),
  );
  // Every committed plan's jobs in one bundle per destination, after the commit (a crash in
  // between leaves routed messages the sweeper hands to mda again); each job carries its
  // message's routing span.
  const local: Array<{ payload: LocalDeliveryJobPayload; trace: Record<string, string> }> = [];
  const outbound: Array<{ payload: OutboundJobPayload; trace: Record<string, string> }> = [];
  outcomes.forEach((p, i) => {
    if (!isPlan(p)) return;
    const trace = traceFields(traceApi.setSpan(jobs[i]!.traceContext, spans[i]!));
    if (p.local.length > 0) local.push({ payload: { spoolId: p.message.id, recipients: p.local }, trace });
    if (p.outbound.length > 0)
      outbound.push({ payload: { spoolId: p.message.id, rcptIndexes: p.outbound }, trace });
    deps.logger.debug(
      { spoolId: p.message.id, local: p.local.length, outbound: p.outbound.length },
      'routed',
    );
  });
  // The error of a bundle's publish, if any (an empty bundle is not published).
  const failureOf = <J>(bundle: J[], publish: (jobs: J[]) => Promise<void>) =>
    bundle.length === 0
      ? undefined
      : publish(bundle).then(
          () => undefined,
          (e: unknown) => e,
        );
  const [localError, outboundError] = await Promise.all([
    failureOf(local, deps.publishLocalDeliveries),
    failureOf(outbound, deps.publishOutbound),
  ]);
  const published = outcomes.map((p): JobOutcome => {
    if (!isPlan(p)) return p;
    const error = (p.local.length > 0 && localError) || (p.outbound.length > 0 && outboundError);
    return error ? retryLater(deps, p.message.id)(error) : { kind: 'ack' };
  });
  published.forEach((outcome, i) => {
    if (outcome.kind !== 'ack') spans[i]!.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
    spans[i]!.end();
  });
  return published;
}
