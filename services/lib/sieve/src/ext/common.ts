/** Checks and helpers shared by tests that compare strings (comparators, match types, address parts). */
import { type Node, str, type ValidateContext } from '../core.js';
import { formatAddress, parseAddressList, parseSmtpPath } from '../message.js';
import { compileRegex, RegexError } from '../regex.js';
import type { Runtime } from '../runtime.js';

const COMPARATORS: Record<string, string | undefined> = {
  'i;octet': undefined,
  'i;ascii-casemap': undefined,
  'i;ascii-numeric': 'comparator-i;ascii-numeric',
  // Pigeonhole (and its corpus) accepts i;unicode-casemap without a require
  'i;unicode-casemap': undefined,
};
const OPS = new Set(['gt', 'ge', 'lt', 'le', 'eq', 'ne']);

/** Compile-time checks of :comparator, relational operators and constant regular expressions. */
export function validateMatch(node: Node, ctx: ValidateContext, keys: string[] | undefined): void {
  const cmp = str(node.tags.comparator);
  if (cmp !== undefined) {
    const c = cmp.toLowerCase();
    if (!(c in COMPARATORS)) ctx.error(node, `unknown comparator '${cmp}'`);
    else {
      const ext = COMPARATORS[c];
      if (ext && !ctx.has(ext)) ctx.error(node, `comparator '${cmp}' requires require "${ext}"`);
      node.tags.comparator = c;
      if (c === 'i;ascii-numeric' && (node.tags.contains || node.tags.matches || node.tags.regex))
        ctx.error(
          node,
          `comparator '${cmp}' does not support the ${node.tags.contains ? ':contains' : node.tags.matches ? ':matches' : ':regex'} match type`,
        );
    }
  }
  for (const t of ['count', 'value'] as const) {
    const op = node.tags[t];
    if (op !== undefined && !OPS.has(String(op).toLowerCase()))
      ctx.error(node, `invalid relational match-type operator '${String(op)}' for :${t}`);
  }
  if (node.tags.regex && keys) {
    const icase = (str(node.tags.comparator) ?? 'i;ascii-casemap') === 'i;ascii-casemap';
    for (const k of keys) {
      if (ctx.has('variables') && k.includes('${')) continue;
      try {
        compileRegex(k, icase);
      } catch (e) {
        if (e instanceof RegexError)
          ctx.error(node, `invalid regular expression '${k}' for regex match: ${e.message}`);
        else throw e;
      }
    }
  }
}

export interface AddressLike {
  localPart: string;
  domain: string;
}

/** The part of an address a test compares (:all, :localpart, :domain, :user, :detail); null: no match. */
export function addressPart(node: Node, rt: Runtime, a: AddressLike | null, raw: string): string | null {
  const tags = node.tags;
  if (!a) return tags.localpart || tags.domain || tags.user || tags.detail ? null : raw;
  if (tags.localpart) return a.localPart;
  if (tags.domain) return a.domain;
  if (tags.user || tags.detail) {
    const seps = rt.env.subaddressSeparator || '+';
    let at = -1;
    for (let i = 0; i < a.localPart.length; i++) {
      if (seps.includes(a.localPart[i]!)) {
        at = i;
        break;
      }
    }
    if (tags.user) return at < 0 ? a.localPart : a.localPart.slice(0, at);
    return at < 0 ? null : a.localPart.slice(at + 1);
  }
  return formatAddress(a.localPart, a.domain);
}

/** Address parts of header field values (address test). */
export function headerAddresses(node: Node, rt: Runtime, values: string[]): string[] {
  const out: string[] = [];
  const cache = rt.message.addressLists;
  for (const v of values) {
    let list = cache.get(v);
    if (list === undefined) {
      list = parseAddressList(v);
      cache.set(v, list);
    }
    if (!list) {
      const part = addressPart(node, rt, null, v);
      if (part !== null) out.push(part);
      continue;
    }
    for (const a of list) {
      const part = addressPart(node, rt, a, v);
      if (part !== null) out.push(part);
    }
  }
  return out;
}

/** Address parts of an envelope path ('' for the null path). */
export function pathPart(node: Node, rt: Runtime, path: string): string | null {
  if (path === '' || path === '<>') return node.tags.detail ? null : '';
  const a = parseSmtpPath(path);
  if (!a) return null;
  return addressPart(node, rt, a, path);
}
