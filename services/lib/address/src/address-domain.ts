/**
 * The domain of an address as configuration is keyed (lower case): what follows the last `@`, the
 * whole input when there is none. For an address already parsed (parseAddress) use its domain.
 */
export const domainOfAddress = (address: string): string =>
  address.slice(address.lastIndexOf('@') + 1).toLowerCase();
