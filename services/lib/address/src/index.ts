export { parseAddress, formatAddress, AddressError, type ParsedAddress, type AddressErrorCode } from './parse-address.js';
export { normalizeDomain } from './normalize-domain.js';
