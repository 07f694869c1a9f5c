export type { DomainConfig as DomainConfigValue } from './schema.js';
export {
  DomainAlias,
  DomainConfig,
  domainNamePattern,
  ExchangerMode,
  parseDomainConfig,
  RemoteHost,
} from './schema.js';
export {
  DOMAIN_BUCKET,
  DomainConfigStore,
  deleteDomainConfig,
  listDomainConfigs,
  openDomainBucket,
  writeDomainConfig,
} from './store.js';
export {
  DKIM_KEY_BUCKET,
  DkimKey,
  dkimKeyRef,
  dkimSelectorPattern,
  openDkimKeyBucket,
  writeDkimKey,
  readDkimKey,
  deleteDkimKey,
  listDkimKeyRefs,
} from './dkim-keys.js';
export type { DkimKey as DkimKeyValue } from './dkim-keys.js';
export {
  DOMAIN_STATUS_BUCKET,
  DomainStatus,
  openDomainStatusBucket,
  writeDomainStatus,
  readDomainStatus,
  deleteDomainStatus,
  watchDomainStatus,
} from './domain-status.js';
export type { DomainStatus as DomainStatusValue } from './domain-status.js';
