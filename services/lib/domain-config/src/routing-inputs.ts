import type { Logger } from '@hermod/logging';
import type { KV } from 'nats';
import { watchDomainStatus } from './domain-status.js';
import type { DomainConfigStore } from './store.js';

/**
 * Calls onChange whenever something routing decides from may have changed: a domain's config
 * (mode, aliases, catch-all) or its published status (the effective mode of an `auto` domain).
 * Receivers that remember routing's answers forget them here, so a remembered answer never
 * outlives the configuration it was given under.
 */
export function onRoutingInputsChange(
  domains: DomainConfigStore,
  statusBucket: KV,
  logger: Logger,
  onChange: () => void,
): { stop(): void } {
  const stopConfig = domains.onChange(() => onChange());
  const status = watchDomainStatus(statusBucket, () => onChange(), logger);
  return {
    stop: () => {
      stopConfig();
      status.stop();
    },
  };
}
