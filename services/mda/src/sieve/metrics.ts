import { Counter, Histogram, type Registry } from 'prom-client';

/** Sieve at delivery: scripts run, actions by kind, failures (kept instead), time per run. */
export interface SieveMetrics {
  runs: Counter;
  actions: Counter<'kind'>;
  failures: Counter;
  seconds: Histogram;
}

export function createSieveMetrics(registry: Registry): SieveMetrics {
  return {
    runs: new Counter({
      name: 'hermod_mda_sieve_runs_total',
      help: 'Recipients whose Sieve scripts ran',
      registers: [registry],
    }),
    actions: new Counter({
      name: 'hermod_mda_sieve_actions_total',
      help: 'Sieve actions performed, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'hermod_mda_sieve_failures_total',
      help: 'Sieve runs that failed (the message was kept)',
      registers: [registry],
    }),
    seconds: new Histogram({
      name: 'hermod_mda_sieve_run_seconds',
      help: 'Time to run one recipient’s Sieve scripts and apply their actions',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
  };
}
