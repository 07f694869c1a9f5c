import type { Pool } from '@hermod/db';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface OutboundMetrics {
  results: Counter<'result'>;
  /** Faults of our own (LocalError) by where they arose; each one holds its recipients. */
  localErrors: Counter<'stage'>;
  attemptDuration: Histogram;
  deliveryLatency: Histogram;
}

/**
 * Delivery counters plus queue gauges read from PostgreSQL at scrape time (the queue is shared by
 * every replica, so any replica reports the whole queue: what an autoscaler reads).
 */
export function createOutboundMetrics(registry: Registry, pool: Pool): OutboundMetrics {
  new Gauge({
    name: 'hermod_outbound_queue_depth',
    help: 'Recipients in the outbound queue by state and destination domain',
    labelNames: ['state', 'domain'],
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await pool.query<{ state: string; domain: string; n: string }>(
        `SELECT CASE WHEN lease_expires_at > now() THEN 'active' ELSE state END AS state, domain, count(*) AS n
         FROM outbound_queue GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 500`,
      );
      for (const r of rows) this.set({ state: r.state, domain: r.domain }, Number(r.n));
    },
  });
  new Gauge({
    name: 'hermod_outbound_queue_oldest_seconds',
    help: 'Age of the oldest message still in the outbound queue',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ age: number | null }>(
        'SELECT extract(epoch FROM now() - min(queued_at))::float8 AS age FROM outbound_queue',
      );
      this.set(rows[0]?.age ?? 0);
    },
  });
  new Gauge({
    name: 'hermod_outbound_queue_due',
    help: 'Recipients whose next attempt is due now (waiting for a worker)',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM outbound_queue WHERE state IN ('queued', 'deferred') AND next_attempt_at <= now()
           AND (lease_expires_at IS NULL OR lease_expires_at < now())`,
      );
      this.set(Number(rows[0]?.n ?? 0));
    },
  });
  return {
    results: new Counter({
      name: 'hermod_outbound_results_total',
      help: 'Recipient delivery attempt results (delivered, deferred, failed)',
      labelNames: ['result'],
      registers: [registry],
    }),
    localErrors: new Counter({
      name: 'hermod_outbound_local_errors_total',
      help: 'Delivery attempts ended by a fault of our own (bug, unusable DKIM key); their recipients are held',
      labelNames: ['stage'],
      registers: [registry],
    }),
    attemptDuration: new Histogram({
      name: 'hermod_outbound_attempt_seconds',
      help: 'Duration of one delivery attempt (one message at one destination)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'hermod_outbound_delivery_latency_seconds',
      help: 'From acceptance to remote 250, per delivered recipient',
      buckets: [0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14400, 86400],
      registers: [registry],
    }),
  };
}
