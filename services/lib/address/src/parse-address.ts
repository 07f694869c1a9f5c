import { normalizeDomain } from './normalize-domain.js';

export type AddressErrorCode =
  | 'empty'
  | 'too-long'
  | 'control-character'
  | 'source-route'
  | 'missing-at'
  | 'bad-local-part'
  | 'routing-characters'
  | 'address-literal'
  | 'bad-domain';

export class AddressError extends Error {
  constructor(
    readonly code: AddressErrorCode,
    readonly input: string,
    message: string,
  ) {
    super(message);
    this.name = 'AddressError';
  }
}

export interface ParsedAddress {
  /** Local part as written (quotes removed), case preserved. */
  localPart: string;
  /** Lower-case A-label domain. */
  domain: string;
  /** local@domain with the local part lower-cased: the one key used for policy and routing alike. */
  canonical: string;
}

// RFC 5321 atext plus UTF-8 (RFC 6531); '%' and '!' are legal atext but are old relay syntax.
const dotAtom =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+)*$/u;

/**
 * The single address parser used for both policy and routing, so what is checked is what is routed.
 * Ambiguous forms are refused rather than interpreted: source routes, '%' and '!' relay hacks, quoted
 * local parts that are not plain atoms, address literals, control characters.
 */
export function parseAddress(input: string, options: { allowAddressLiteral?: boolean } = {}): ParsedAddress {
  if (input.length === 0) throw new AddressError('empty', input, 'empty address');
  if (Buffer.byteLength(input) > 254)
    throw new AddressError('too-long', input, 'address longer than 254 octets');
  if (/[\x00-\x1f\x7f]/.test(input))
    throw new AddressError('control-character', input, 'control character in address');
  if (input.startsWith('@')) throw new AddressError('source-route', input, 'source routes are not accepted');
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1)
    throw new AddressError('missing-at', input, 'address must be local@domain');
  let localPart = input.slice(0, at);
  const domainPart = input.slice(at + 1);

  if (localPart.startsWith('"')) {
    if (!localPart.endsWith('"') || localPart.length < 3)
      throw new AddressError('bad-local-part', input, 'unterminated quoted local part');
    const inner = localPart.slice(1, -1);
    // Only quoting that changes nothing is accepted: "john.doe"@x is john.doe@x; "a@b"@x is refused.
    if (!dotAtom.test(inner))
      throw new AddressError('bad-local-part', input, 'quoted local parts are not accepted');
    localPart = inner;
  }
  if (!dotAtom.test(localPart)) throw new AddressError('bad-local-part', input, 'invalid local part');
  if (Buffer.byteLength(localPart) > 64)
    throw new AddressError('too-long', input, 'local part longer than 64 octets');
  if (/[%!@]/.test(localPart))
    throw new AddressError('routing-characters', input, "'%' and '!' relay syntax is not accepted");

  if (domainPart.startsWith('[')) {
    if (!options.allowAddressLiteral)
      throw new AddressError('address-literal', input, 'address literals are not accepted');
    return { localPart, domain: domainPart, canonical: `${localPart.toLowerCase()}@${domainPart}` };
  }
  const domain = normalizeDomain(domainPart);
  if (!domain) throw new AddressError('bad-domain', input, 'invalid domain');
  return { localPart, domain, canonical: `${localPart.toLowerCase()}@${domain}` };
}

/** The canonical form of an address, or undefined when it does not parse. */
export function formatAddress(input: string): string | undefined {
  try {
    return parseAddress(input).canonical;
  } catch {
    return undefined;
  }
}
