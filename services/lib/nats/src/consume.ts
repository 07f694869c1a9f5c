import type { Logger } from '@hermod/logging';
import { contextFromFields, extractTraceContext } from '@hermod/telemetry';
import type { Context } from '@opentelemetry/api';
import type { ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import { JOB_BUNDLE_HEADER } from './publish.js';
import { natsHeaderCarrier } from './trace-headers.js';

/** What a handler decided for one job. Only a final outcome acknowledges the queue message. */
export type JobOutcome =
  | { kind: 'ack' }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'drop'; reason: string };

export interface ReceivedJob<T> {
  payload: T;
  subject: string;
  /** 1 on first delivery; JetStream counts redeliveries. */
  deliveryCount: number;
  traceContext: Context;
}

export interface ConsumeJobsOptions<T> {
  js: JetStreamClient;
  stream: string;
  durable: string;
  /** Validates a decoded payload; throwing marks the message as poison (terminated, logged). */
  parse: (data: unknown) => T;
  /** Handles a batch; returns one outcome per job, in order. Batches let a store commit many at once. */
  handleBatch: (jobs: ReceivedJob<T>[]) => Promise<JobOutcome[]>;
  logger: Logger;
  maxBatch?: number;
  concurrency?: number;
  /** Extends the ack deadline while a batch runs longer than this. */
  workingIntervalMs?: number;
  /**
   * Under load, how long a batch short of maxBatch may wait for more jobs before it starts (0: never).
   * Load: the previous batch held more than one job and jobs were waiting when it ended. A job that
   * finds the consumer idle never waits. Fewer, larger batches cost less per job (one commit each)
   * for a few milliseconds of latency.
   */
  lingerMs?: number;
}

export interface JobConsumer {
  /** Stops pulling, lets batches in flight finish, hands undelivered ones back. */
  stop(): Promise<void>;
  readonly inFlight: number;
}

/** A queue message and the jobs it carries (one, or a bundle from publishJobs). */
interface Delivery<T> {
  message: JsMsg;
  jobs: ReceivedJob<T>[];
}

/**
 * What the queue message of several jobs becomes: retried (after the shortest delay asked) while
 * any job wants a retry, otherwise acknowledged; terminated only when every job was dropped.
 */
export function settleBundle(outcomes: JobOutcome[]): JobOutcome {
  const retries = outcomes.filter((o) => o.kind === 'retry');
  if (retries.length > 0)
    return {
      kind: 'retry',
      delayMs: Math.min(...retries.map((r) => r.delayMs)),
      reason: retries.map((r) => r.reason).join('; '),
    };
  const drops = outcomes.filter((o) => o.kind === 'drop');
  if (outcomes.length > 0 && drops.length === outcomes.length)
    return { kind: 'drop', reason: drops.map((d) => d.reason).join('; ') };
  return { kind: 'ack' };
}

/**
 * Pulls jobs and hands them to the handler in batches that form on their own: the first message
 * starts a batch at once; whatever arrives while it runs becomes the next batch (group commit),
 * which under load may wait up to lingerMs to fill. A bundle (publishJobs) counts as its jobs, and
 * is settled once all of them are.
 */
export function consumeJobs<T>(options: ConsumeJobsOptions<T>): JobConsumer {
  const maxBatch = options.maxBatch ?? 64;
  const concurrency = options.concurrency ?? 1;
  const logger = options.logger.child({ stream: options.stream, consumer: options.durable });
  const lingerMs = options.lingerMs ?? 0;
  const pending: Delivery<T>[] = [];
  /** Jobs in pending (a bundle counts as its jobs). */
  let pendingJobs = 0;
  let running = 0;
  /** Jobs in the batch started last (0 once one ended with nothing waiting): above one is load. */
  let lastBatchJobs = 0;
  /** The wait of a short batch under load, while it runs; then whether it has ended. */
  let linger: NodeJS.Timeout | undefined;
  let lingered = false;
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  const drained: Array<() => void> = [];

  const receivedJob = (m: JsMsg, data: unknown, traceContext: Context): ReceivedJob<T> => ({
    payload: options.parse(data),
    subject: m.subject,
    deliveryCount: m.info.redeliveryCount,
    traceContext,
  });

  /** The jobs of a queue message; a message that is not valid JSON, or not a list when a bundle, is terminated. */
  const unpack = (m: JsMsg): Delivery<T> | undefined => {
    try {
      const data: unknown = JSON.parse(Buffer.from(m.data).toString('utf8'));
      if (!m.headers?.has(JOB_BUNDLE_HEADER)) {
        const traceContext = m.headers
          ? extractTraceContext(natsHeaderCarrier(m.headers))
          : contextFromFields({});
        return { message: m, jobs: [receivedJob(m, data, traceContext)] };
      }
      if (!Array.isArray(data) || data.length === 0) throw new Error('a job bundle must be a non-empty list');
      // A bad entry is skipped (and logged); the good ones of the same bundle still run.
      const jobs = data.flatMap((entry: { payload?: unknown; trace?: Record<string, string> }, index) => {
        try {
          return [receivedJob(m, entry?.payload, contextFromFields(entry?.trace ?? {}))];
        } catch (error) {
          logger.error(
            { err: error, subject: m.subject, seq: m.seq, index },
            'malformed job in bundle skipped',
          );
          return [];
        }
      });
      if (jobs.length === 0) throw new Error('no valid job in the bundle');
      return { message: m, jobs };
    } catch (error) {
      logger.error({ err: error, subject: m.subject, seq: m.seq }, 'malformed job terminated');
      m.term();
      return undefined;
    }
  };

  const settle = (delivery: Delivery<T>, outcome: JobOutcome): void => {
    const m = delivery.message;
    if (outcome.kind === 'ack') m.ack();
    else if (outcome.kind === 'retry') m.nak(outcome.delayMs);
    else m.term();
  };

  const runBatch = async (batch: Delivery<T>[]): Promise<void> => {
    const jobs = batch.flatMap((d) => d.jobs);
    const timer = setInterval(() => {
      for (const d of batch) d.message.working();
    }, options.workingIntervalMs ?? 10_000);
    try {
      const outcomes = await options.handleBatch(jobs);
      let at = 0;
      for (const delivery of batch) {
        const own = delivery.jobs.map(
          (_, i): JobOutcome =>
            outcomes[at + i] ?? { kind: 'retry', delayMs: 5_000, reason: 'no outcome returned' },
        );
        at += delivery.jobs.length;
        for (const o of own)
          if (o.kind === 'drop')
            logger.warn(
              { subject: delivery.message.subject, seq: delivery.message.seq, reason: o.reason },
              'job dropped',
            );
        settle(delivery, settleBundle(own));
      }
    } catch (error) {
      logger.error({ err: error, size: jobs.length }, 'batch failed; will be redelivered');
      for (const d of batch) d.message.nak(2_000);
    } finally {
      clearInterval(timer);
    }
  };

  /** Queue messages from the front of pending up to maxBatch jobs (always at least one message). */
  const takeBatch = (): Delivery<T>[] => {
    let jobs = 0;
    let count = 0;
    while (count < pending.length && (count === 0 || jobs + pending[count]!.jobs.length <= maxBatch)) {
      jobs += pending[count]!.jobs.length;
      count++;
    }
    pendingJobs -= jobs;
    lastBatchJobs = jobs;
    return pending.splice(0, count);
  };

  /** Whether the next batch should wait for more jobs first (see lingerMs); starts the wait. */
  const waitsToFill = (): boolean => {
    if (lingerMs <= 0 || lingered || lastBatchJobs <= 1 || pendingJobs >= maxBatch || stopped) {
      clearTimeout(linger);
      linger = undefined;
      lingered = false;
      return false;
    }
    linger ??= setTimeout(() => {
      linger = undefined;
      lingered = true;
      pump();
    }, lingerMs);
    return true;
  };

  const pump = (): void => {
    while (running < concurrency && pending.length > 0) {
      if (waitsToFill()) return;
      const batch = takeBatch();
      running++;
      void runBatch(batch).finally(() => {
        running--;
        // Nothing came while it ran: the next job finds the consumer idle and starts at once.
        if (pending.length === 0) lastBatchJobs = 0;
        if (running === 0 && pending.length === 0) for (const resolve of drained.splice(0)) resolve();
        pump();
      });
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const consumer = await options.js.consumers.get(options.stream, options.durable);
        messages = await consumer.consume({ max_messages: Math.max(maxBatch * concurrency * 2, 32) });
        // stop() ran while the subscription was being made: it could not stop this one.
        if (stopped) {
          messages.stop();
          break;
        }
        for await (const m of messages) {
          if (stopped) {
            m.nak();
            continue;
          }
          const delivery = unpack(m);
          if (!delivery) continue;
          pending.push(delivery);
          pendingJobs += delivery.jobs.length;
          pump();
        }
      } catch (error) {
        if (!stopped) logger.warn({ err: error }, 'consumer interrupted; resubscribing');
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  };
  void loop();

  return {
    get inFlight() {
      return running + pending.length;
    },
    async stop() {
      stopped = true;
      clearTimeout(linger);
      messages?.stop();
      pendingJobs = 0;
      for (const d of pending.splice(0)) d.message.nak();
      if (running > 0) await new Promise<void>((resolve) => drained.push(resolve));
    },
  };
}
