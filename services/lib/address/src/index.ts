export { domainOfAddress } from './address-domain.js';
export { normalizeDomain } from './normalize-domain.js';
export {
  AddressError,
  type AddressErrorCode,
  formatAddress,
  type ParsedAddress,
  parseAddress,
} from './parse-address.js';
export { type SrsReverse, srsForward, srsReverse } from './srs.js';
