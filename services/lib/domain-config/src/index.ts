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
