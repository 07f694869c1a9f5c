/** variables (RFC 5229): set with modifiers, the string test; global (RFC 6609) lives in include. */
import { COMPARATOR_TAGS, list, type Registry, str, type TagDef } from '../core.js';
import { truncateUtf8 } from '../runtime.js';
import { validateMatch } from './common.js';

const MODIFIERS: Record<string, number> = {
  lower: 40,
  upper: 40,
  lowerfirst: 30,
  upperfirst: 30,
  quotewildcard: 20,
  quoteregex: 20,
  encodeurl: 15,
  length: 10,
};
/** The modifier tags of set (RFC 5229), also taken by extracttext (RFC 5703). */
export const MODIFIER_TAGS: Record<string, TagDef> = {
  lower: { group: 'case' },
  upper: { group: 'case' },
  lowerfirst: { group: 'first' },
  upperfirst: { group: 'first' },
  quotewildcard: { group: 'quote' },
  quoteregex: { group: 'quote', ext: 'regex' },
  encodeurl: { group: 'quote', ext: 'enotify' },
  length: { group: 'length' },
};

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function applyModifier(mod: string, v: string): string {
  switch (mod) {
    case 'lower':
      return v.toLowerCase();
    case 'upper':
      return v.toUpperCase();
    case 'lowerfirst':
      return v.charAt(0).toLowerCase() + v.slice(1);
    case 'upperfirst':
      return v.charAt(0).toUpperCase() + v.slice(1);
    case 'quotewildcard':
      return v.replace(/[*?\\]/g, '\\$&');
    case 'quoteregex':
      return v.replace(/[\\^$.[\]|()?*+{}]/g, '\\$&');
    case 'encodeurl':
      return encodeURIComponent(v).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      );
    case 'length':
      return String(Array.from(v).length);
    default:
      return v;
  }
}

export function registerVariables(reg: Registry): void {
  reg.known.add('variables');
  reg.add({
    name: 'set',
    kind: 'command',
    ext: 'variables',
    pos: ['string', 'string'],
    tags: MODIFIER_TAGS,
    validate(node, ctx) {
      const name = str(node.pos[0])!;
      const parts = name.split('.');
      const ok =
        (parts.length === 1 && NAME.test(name)) ||
        (parts.length === 2 && parts[0]!.toLowerCase() === 'global' && NAME.test(parts[1]!));
      if (!ok) ctx.error(node, `invalid variable name '${name}' for the set command`);
      else if (parts.length === 1 && !ctx.globals.has(name.toLowerCase())) {
        ctx.locals ??= new Set();
        ctx.locals.add(name.toLowerCase());
      }
      const mods = Object.keys(node.tags)
        .filter((t) => t in MODIFIERS)
        .sort((a, b) => MODIFIERS[b]! - MODIFIERS[a]!);
      node.data = { modifiers: mods };
    },
    run(node, rt) {
      let v = rt.estr(node.pos[1]);
      for (const m of (node.data?.modifiers as string[]) ?? []) v = applyModifier(m, v);
      const max = rt.state.limits.maxVariableBytes;
      if (node.tags.encodeurl !== undefined && v.length > max) v = cutEncoded(v, max);
      if ((node.tags.quotewildcard ?? node.tags.quoteregex) !== undefined && Buffer.byteLength(v) > max)
        v = cutQuoted(v, max);
      rt.setVar(str(node.pos[0])!, v);
    },
  });
  reg.add({
    name: 'string',
    kind: 'test',
    ext: 'variables',
    pos: ['stringlist', 'stringlist'],
    tags: { ...COMPARATOR_TAGS },
    // RFC 5229 names none for string; Pigeonhole compares octets, and its variables tests expect it
    defaultComparator: 'i;octet',
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[1]));
    },
    test(node, rt) {
      let values = rt.elist(node.pos[0]);
      if (node.tags.count !== undefined) values = values.filter((v) => v !== '');
      return rt.match(node, values, list(node.pos[1]));
    },
  });
}

/**
 * Cuts a backslash-quoted value (:quotewildcard, :quoteregex) to at most `max` bytes without leaving the
 * first half of an escape at its end: a lone trailing backslash would escape nothing (or what follows).
 */
function cutQuoted(v: string, max: number): string {
  const cut = truncateUtf8(v, max);
  const trailing = /\\*$/.exec(cut)![0].length;
  return trailing % 2 === 1 ? cut.slice(0, -1) : cut;
}

/**
 * Cuts a percent-encoded value to at most `max` bytes without splitting an escape or the escaped bytes of
 * one UTF-8 character.
 */
function cutEncoded(v: string, max: number): string {
  let cut = v.slice(0, max).replace(/%[0-9A-Fa-f]?$/, '');
  // walk back over the trailing escapes to the start of the last character
  let i = cut.length;
  let continuation = 0;
  while (i >= 3 && cut[i - 3] === '%') {
    const byte = Number.parseInt(cut.slice(i - 2, i), 16);
    if ((byte & 0xc0) !== 0x80) {
      const need = byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : byte >= 0xc0 ? 1 : 0;
      if (continuation < need) cut = cut.slice(0, i - 3);
      break;
    }
    continuation++;
    i -= 3;
  }
  return cut;
}
