export {
  CLIENT_PORT_DEFAULTS,
  type ClientService,
  type ClientSettings,
  clientServices,
  clientSettingsOf,
} from './client-settings.js';
export type { DkimKey as DkimKeyValue } from './dkim-keys.js';
export {
  DKIM_KEY_BUCKET,
  DkimKey,
  deleteDkimKey,
  dkimKeyRef,
  dkimSelectorPattern,
  listDkimKeyRefs,
  openDkimKeyBucket,
  readDkimKey,
  writeDkimKey,
} from './dkim-keys.js';
export type { DomainStatus as DomainStatusValue } from './domain-status.js';
export {
  DOMAIN_STATUS_BUCKET,
  DomainStatus,
  deleteDomainStatus,
  openDomainStatusBucket,
  readDomainStatus,
  watchDomainStatus,
  writeDomainStatus,
} from './domain-status.js';
export { openLivePolicySet } from './live-policy-set.js';
export {
  MTA_STS_MAX_AGE_LIMIT,
  mtaStsPolicyOf,
  type OwnMtaStsPolicy,
  renderMtaStsPolicy,
} from './mta-sts-policy.js';
export { onRoutingInputsChange } from './routing-inputs.js';
export type { DomainConfig as DomainConfigValue } from './schema.js';
export {
  DOMAIN_SIEVE_MAX_BYTES,
  DomainAlias,
  DomainConfig,
  DomainSieveScripts,
  domainNamePattern,
  ExchangerMode,
  parseDomainConfig,
  QuarantineSettings,
  RemoteHost,
} from './schema.js';
export {
  createDomainConfig,
  DOMAIN_BUCKET,
  DomainConfigStore,
  deleteDomainConfig,
  listDomainConfigs,
  openDomainBucket,
  openDomainConfig,
  readDomainConfig,
  updateDomainConfig,
  writeDomainConfig,
} from './store.js';
