import type { Logger } from '@hermod/logging';
import { extractTraceContext } from '@hermod/telemetry';
import type { Context } from '@opentelemetry/api';
import type { ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
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
}

export interface JobConsumer {
  /** Stops pulling, lets batches in flight finish, hands undelivered ones back. */
  stop(): Promise<void>;
  readonly inFlight: number;
}

/**
 * Pulls jobs and hands them to the handler in batches that form on their own: the first message
 * starts a batch at once; whatever arrives while it runs becomes the next batch (group commit).
 */
export function consumeJobs<T>(options: ConsumeJobsOptions<T>): JobConsumer {
  const maxBatch = options.maxBatch ?? 64;
  const concurrency = options.concurrency ?? 1;
  const logger = options.logger.child({ stream: options.stream, consumer: options.durable });
  const pending: JsMsg[] = [];
  let running = 0;
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  const drained: Array<() => void> = [];

  const runBatch = async (batch: JsMsg[]): Promise<void> => {
    const jobs: ReceivedJob<T>[] = [];
    const accepted: JsMsg[] = [];
    for (const m of batch) {
      try {
        const payload = options.parse(JSON.parse(Buffer.from(m.data).toString('utf8')));
        jobs.push({
          payload,
          subject: m.subject,
          deliveryCount: m.info.redeliveryCount,
          traceContext: m.headers
            ? extractTraceContext(natsHeaderCarrier(m.headers))
            : extractTraceContext({ get: () => undefined, set: () => {} }),
        });
        accepted.push(m);
      } catch (error) {
        logger.error({ err: error, subject: m.subject, seq: m.seq }, 'malformed job terminated');
        m.term();
      }
    }
    if (jobs.length === 0) return;
    const timer = setInterval(() => {
      for (const m of accepted) m.working();
    }, options.workingIntervalMs ?? 10_000);
    try {
      const outcomes = await options.handleBatch(jobs);
      accepted.forEach((m, i) => {
        const outcome = outcomes[i] ?? { kind: 'retry', delayMs: 5_000, reason: 'no outcome returned' };
        if (outcome.kind === 'ack') m.ack();
        else if (outcome.kind === 'retry') m.nak(outcome.delayMs);
        else {
          logger.warn({ subject: m.subject, seq: m.seq, reason: outcome.reason }, 'job dropped');
          m.term();
        }
      });
    } catch (error) {
      logger.error({ err: error, size: accepted.length }, 'batch failed; will be redelivered');
      for (const m of accepted) m.nak(2_000);
    } finally {
      clearInterval(timer);
    }
  };

  const pump = (): void => {
    while (running < concurrency && pending.length > 0) {
      const batch = pending.splice(0, maxBatch);
      running++;
      void runBatch(batch).finally(() => {
        running--;
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
        for await (const m of messages) {
          if (stopped) {
            m.nak();
            continue;
          }
          pending.push(m);
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
      messages?.stop();
      for (const m of pending.splice(0)) m.nak();
      if (running > 0) await new Promise<void>((resolve) => drained.push(resolve));
    },
  };
}
