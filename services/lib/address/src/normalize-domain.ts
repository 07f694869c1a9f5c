import { domainToASCII } from 'node:url';

const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-case A-label form of a domain (IDN converted), or undefined when it is not a valid host name. */
export function normalizeDomain(input: string): string | undefined {
  if (input.length === 0 || input.length > 253 || /[\s\x00-\x1f\x7f]/.test(input)) return undefined;
  const ascii = /^[\x20-\x7e]*$/.test(input) ? input.toLowerCase() : domainToASCII(input.toLowerCase());
  if (!ascii || ascii.endsWith('.')) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => label.test(l))) return undefined;
  // The top-level label of a real domain is never all digits (that would be an IP address).
  if (/^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  return ascii;
}
