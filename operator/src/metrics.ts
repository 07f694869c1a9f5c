import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DomainHealth } from './controller/health.js';

/** The operator's Prometheus metrics (process metrics come from createMetricsRegistry). */
export function createOperatorMetrics(registry: Registry) {
  // Domain health is read at scrape time from whatever source the operator sets (its cache).
  let health: () => DomainHealth | undefined = () => undefined;
  const healthGauge = (name: string, help: string, pick: (h: DomainHealth) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const h = health();
        if (h) this.set(pick(h));
      },
    });
  healthGauge('hermod_operator_maildomains', 'MailDomains the operator sees.', (h) => h.total);
  healthGauge(
    'hermod_operator_maildomains_not_ready',
    'MailDomains whose Ready condition is not True.',
    (h) => h.notReady,
  );
  healthGauge(
    'hermod_operator_maildomains_dns_not_verified',
    'MailDomains whose DnsVerified condition is False (a record the domain needs is not visible).',
    (h) => h.dnsNotVerified,
  );
  healthGauge(
    'hermod_operator_dkim_rotations_pending',
    'MailDomains with a new DKIM selector published and not yet signing.',
    (h) => h.rotationsPending,
  );
  healthGauge(
    'hermod_operator_dkim_rotations_held',
    'MailDomains whose DKIM switch is due but held because the new record is not visible in DNS.',
    (h) => h.rotationsHeld,
  );
  return {
    /** Where the domain-health gauges read from (the operator's MailDomain cache). */
    setDomainHealthSource(source: () => DomainHealth): void {
      health = source;
    },
    reconciles: new Counter({
      name: 'hermod_operator_reconcile_total',
      help: 'Reconciles by controller and result (success, error, requeue).',
      labelNames: ['controller', 'result'] as const,
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'hermod_operator_reconcile_errors_total',
      help: 'Failed reconciles by controller.',
      labelNames: ['controller'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'hermod_operator_reconcile_duration_seconds',
      help: 'Time per reconcile.',
      labelNames: ['controller'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'hermod_operator_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['controller'] as const,
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: 'hermod_operator_api_requests_total',
      help: 'Kubernetes API requests by verb, resource and HTTP status code.',
      labelNames: ['verb', 'resource', 'code'] as const,
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: 'hermod_operator_events_dropped_total',
      help: 'Events of MailUsers and MailGroups not sent because they came faster than the event budget, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: 'hermod_operator_watch_restarts_total',
      help: 'Watches restarted, by resource and reason (closed, gone, error).',
      labelNames: ['resource', 'reason'] as const,
      registers: [registry],
    }),
    relists: new Counter({
      name: 'hermod_operator_relists_total',
      help: 'Full lists, by resource and reason (initial, expired, periodic).',
      labelNames: ['resource', 'reason'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'hermod_operator_leader',
      help: '1 while this replica holds the leader lease.',
      registers: [registry],
    }),
    configWrites: new Counter({
      name: 'hermod_operator_config_writes_total',
      help: 'Writes to the live config buckets (domains, dkim keys), by bucket and operation.',
      labelNames: ['bucket', 'operation'] as const,
      registers: [registry],
    }),
    dkimKeysGenerated: new Counter({
      name: 'hermod_operator_dkim_keys_generated_total',
      help: 'DKIM key pairs generated (one per new domain and per rotation when all is well).',
      registers: [registry],
    }),
  };
}
export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
