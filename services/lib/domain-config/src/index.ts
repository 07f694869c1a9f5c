export { DomainConfig, ExchangerMode, RemoteHost, DomainAlias, domainNamePattern, parseDomainConfig } from './schema.js';
export type { DomainConfig as DomainConfigValue } from './schema.js';
export { DomainConfigStore, openDomainBucket, writeDomainConfig, deleteDomainConfig, listDomainConfigs, DOMAIN_BUCKET } from './store.js';
