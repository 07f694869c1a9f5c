/** RFC 5228 commands and tests, with fileinto, envelope and copy. */
import { ADDRESS_PART_TAGS, COMPARATOR_TAGS, list, type Node, type Registry, str } from '../core.js';
import { formatAddress, parseAddressList } from '../message.js';
import { normalizeMailbox, type Runtime, StopSignal } from '../runtime.js';
import { headerAddresses, pathPart, validateMatch } from './common.js';
import { currentFlags, FLAG_TAGS, flagsOf } from './imap4flags.js';
import { mimeOptionValues } from './mime.js';

const ENVELOPE_PARTS = new Set(['from', 'to', 'auth', 'orig']);

function validHeaderName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name);
}

/** Header fields that carry addresses (RFC 5322 section 3.6, RFC 3798, RFC 9228 and common usage). */
const ADDRESS_HEADERS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'return-path',
  'disposition-notification-to',
  'delivered-to',
  'envelope-to',
  'x-original-to',
  'errors-to',
  'mail-followup-to',
  'mail-reply-to',
  'original-recipient',
  'x-envelope-to',
  'x-envelope-from',
]);

export function checkHeaderNames(
  node: Node,
  ctx: { warning(n: Node, m: string): void; has(e: string): boolean },
  names: string[],
  what: string,
): void {
  for (const n of names) {
    if (ctx.has('variables') && n.includes('${')) continue;
    if (!validHeaderName(n)) ctx.warning(node, `invalid header name '${n}' for ${what}: it never matches`);
  }
}

export function fileintoAction(node: Node, rt: Runtime, mailbox: string) {
  return {
    kind: 'fileinto' as const,
    mailbox: normalizeMailbox(mailbox),
    create: node.tags.create !== undefined,
    flags: node.tags.flags !== undefined ? flagsOf(rt.elist(node.tags.flags)) : currentFlags(rt),
    copy: node.tags.copy !== undefined,
    ...(node.tags.specialuse !== undefined ? { specialUse: rt.estr(node.tags.specialuse) } : {}),
    ...(node.tags.mailboxid !== undefined ? { mailboxId: rt.estr(node.tags.mailboxid) } : {}),
  };
}

export function registerBase(reg: Registry): void {
  for (const e of [
    'fileinto',
    'envelope',
    'copy',
    'comparator-i;octet',
    'comparator-i;ascii-casemap',
    'comparator-i;ascii-numeric',
    'comparator-i;unicode-casemap',
    'encoded-character',
  ])
    reg.known.add(e);
  reg.add({ name: 'if', kind: 'command', pos: [], tests: 'one', block: 'required' });
  reg.add({ name: 'elsif', kind: 'command', pos: [], tests: 'one', block: 'required' });
  reg.add({ name: 'else', kind: 'command', pos: [], block: 'required' });
  reg.add({
    name: 'stop',
    kind: 'command',
    pos: [],
    run() {
      throw new StopSignal();
    },
  });
  reg.add({
    name: 'keep',
    kind: 'command',
    pos: [],
    tags: { ...FLAG_TAGS },
    run(node, rt) {
      const flags = node.tags.flags !== undefined ? flagsOf(rt.elist(node.tags.flags)) : currentFlags(rt);
      rt.addAction(node, { kind: 'keep', flags });
    },
  });
  reg.add({
    name: 'discard',
    kind: 'command',
    pos: [],
    run(node, rt) {
      rt.addAction(node, { kind: 'discard' });
    },
  });
  reg.add({
    name: 'redirect',
    kind: 'command',
    pos: ['string'],
    tags: { copy: { ext: 'copy' } },
    validate(node, ctx) {
      const a = str(node.pos[0])!;
      if (ctx.has('variables') && a.includes('${')) return;
      if (!redirectAddress(a)) ctx.error(node, `specified redirect address '${a}' is invalid`);
    },
    run(node, rt) {
      const raw = rt.estr(node.pos[0]);
      const a = redirectAddress(raw);
      if (!a) return rt.error(node, `specified redirect address '${raw}' is invalid`);
      rt.addAction(node, {
        kind: 'redirect',
        address: formatAddress(a.localPart, a.domain),
        copy: node.tags.copy !== undefined,
      });
    },
  });
  reg.add({
    name: 'fileinto',
    kind: 'command',
    ext: 'fileinto',
    pos: ['string'],
    tags: { copy: { ext: 'copy' }, ...FLAG_TAGS },
    validate(node, ctx) {
      const m = str(node.pos[0])!;
      if (!(ctx.has('variables') && m.includes('${')) && !validMailboxName(m))
        ctx.error(node, `invalid folder name '${m}' specified for fileinto command`);
      const use = node.tags.specialuse;
      if (
        typeof use === 'string' &&
        !(ctx.has('variables') && use.includes('${')) &&
        !validSpecialUseFlag(use)
      )
        ctx.error(node, `invalid special-use flag '${use}'`);
    },
    run(node, rt) {
      const mailbox = rt.estr(node.pos[0]);
      if (!validMailboxName(mailbox))
        rt.error(node, `invalid folder name '${mailbox}' specified for fileinto command`);
      rt.addAction(node, fileintoAction(node, rt, mailbox));
    },
  });
  // tests
  reg.add({
    name: 'true',
    kind: 'test',
    pos: [],
    test: () => true,
  });
  reg.add({
    name: 'false',
    kind: 'test',
    pos: [],
    test: () => false,
  });
  reg.add({
    name: 'not',
    kind: 'test',
    pos: [],
    tests: 'one',
    test(node, rt) {
      const r = rt.evalTest(node.tests[0]!);
      return typeof r === 'boolean' ? !r : r.then((v) => !v);
    },
  });
  reg.add({
    name: 'allof',
    kind: 'test',
    pos: [],
    tests: 'list',
    test(node, rt) {
      return everyTest(rt, node.tests, 0, true);
    },
  });
  reg.add({
    name: 'anyof',
    kind: 'test',
    pos: [],
    tests: 'list',
    test(node, rt) {
      return everyTest(rt, node.tests, 0, false);
    },
  });
  reg.add({
    name: 'size',
    kind: 'test',
    pos: ['number'],
    tags: { over: { group: 'size' }, under: { group: 'size' } },
    validate(node, ctx) {
      if (node.tags.over === undefined && node.tags.under === undefined)
        ctx.error(node, 'the size test requires either the :under or the :over tag');
    },
    test(node, rt) {
      const limit = node.pos[0] as number;
      const size = rt.message.size;
      return node.tags.over !== undefined ? size > limit : size < limit;
    },
  });
  reg.add({
    name: 'exists',
    kind: 'test',
    pos: ['stringlist'],
    tags: { mime: { ext: 'mime' }, anychild: { ext: 'mime' } },
    validate(node, ctx) {
      checkHeaderNames(node, ctx, list(node.pos[0]), 'exists test');
      validateIndex(node, ctx); // :anychild needs :mime
    },
    test(node, rt) {
      const names = rt.elistView(node.pos[0]);
      if (node.tags.mime === undefined)
        return names.every((n) => rt.message.fieldsNamed(n.toLowerCase()).length > 0);
      const scopes = rt.headerScopes(node);
      return names.every((n) =>
        scopes.some((headers) => headers.some((h) => h.name.toLowerCase() === n.toLowerCase())),
      );
    },
  });
  reg.add({
    name: 'header',
    kind: 'test',
    pos: ['stringlist', 'stringlist'],
    posNames: ['header names', 'key list'],
    tags: { ...COMPARATOR_TAGS, ...MIME_HEADER_TAGS, ...INDEX_TAGS },
    validate(node, ctx) {
      checkHeaderNames(node, ctx, list(node.pos[0]), 'header test');
      validateMatch(node, ctx, list(node.pos[1]));
      validateIndex(node, ctx);
    },
    test(node, rt) {
      const names = rt.elistView(node.pos[0]);
      let values = rt.headerValues(node, names);
      if (node.tags.mime !== undefined) values = mimeOptionValues(node, rt, names, values);
      return rt.match(node, values, list(node.pos[1]));
    },
  });
  reg.add({
    name: 'address',
    kind: 'test',
    pos: ['stringlist', 'stringlist'],
    posNames: ['header list', 'key list'],
    tags: { ...COMPARATOR_TAGS, ...ADDRESS_PART_TAGS, ...MIME_HEADER_TAGS, ...INDEX_TAGS },
    validate(node, ctx) {
      checkHeaderNames(node, ctx, list(node.pos[0]), 'address test');
      // RFC 5228 section 5.1: the address test is restricted to header fields that contain addresses
      for (const h of list(node.pos[0])) {
        if (ctx.has('variables') && h.includes('${')) continue;
        if (!ADDRESS_HEADERS.has(h.toLowerCase()))
          ctx.error(
            node,
            `specified header '${h}' is not allowed for the address test (it does not hold addresses)`,
          );
      }
      validateMatch(node, ctx, list(node.pos[1]));
      // RFC 5703 section 4.2: the content-type options select header parameters, only for the header test
      if ((node.tags.type ?? node.tags.subtype ?? node.tags.contenttype ?? node.tags.param) !== undefined)
        ctx.error(
          node,
          'the :type, :subtype, :contenttype and :param options are not allowed for the address test',
        );
      else validateIndex(node, ctx);
    },
    test(node, rt) {
      const values = rt.headerValues(node, rt.elistView(node.pos[0]));
      return rt.match(node, headerAddresses(node, rt, values), list(node.pos[1]));
    },
  });
  reg.add({
    name: 'envelope',
    kind: 'test',
    ext: 'envelope',
    pos: ['stringlist', 'stringlist'],
    posNames: ['envelope part', 'key list'],
    tags: { ...COMPARATOR_TAGS, ...ADDRESS_PART_TAGS },
    validate(node, ctx) {
      for (const p of list(node.pos[0])) {
        if (ctx.has('variables') && p.includes('${')) continue;
        if (!ENVELOPE_PARTS.has(p.toLowerCase()))
          ctx.error(node, `specified envelope part '${p}' is not supported by the envelope test`);
      }
      validateMatch(node, ctx, list(node.pos[1]));
    },
    test(node, rt) {
      const values: string[] = [];
      const msg = rt.message.source;
      for (const p of rt.elistView(node.pos[0])) {
        const part = p.toLowerCase();
        const path =
          part === 'from'
            ? msg.envelopeFrom
            : part === 'to'
              ? msg.envelopeTo
              : part === 'orig'
                ? (msg.originalRecipient ?? msg.envelopeTo)
                : part === 'auth'
                  ? msg.auth
                  : undefined;
        if (path === undefined) continue;
        if (part === 'auth') {
          const v =
            node.tags.localpart || node.tags.domain || node.tags.user || node.tags.detail
              ? pathPart(node, rt, path)
              : path;
          if (v !== null) values.push(v);
          continue;
        }
        const v = pathPart(node, rt, path);
        if (v !== null) values.push(v);
      }
      return rt.match(node, values, list(node.pos[1]));
    },
  });
}

/**
 * allof (`all`) and anyof (not `all`) from test `from` on, in order, stopping at the first that decides
 * it; synchronous until a test waits for the host.
 */
function everyTest(
  rt: Runtime,
  tests: readonly Node[],
  from: number,
  all: boolean,
): Promise<boolean> | boolean {
  for (let i = from; i < tests.length; i++) {
    const r = rt.evalTest(tests[i]!);
    if (typeof r !== 'boolean') return r.then((v) => (v === all ? everyTest(rt, tests, i + 1, all) : !all));
    if (r !== all) return !all;
  }
  return all;
}

export const MIME_HEADER_TAGS = {
  mime: { ext: 'mime' },
  anychild: { ext: 'mime' },
  type: { ext: 'mime', group: 'mimeopt' },
  subtype: { ext: 'mime', group: 'mimeopt' },
  contenttype: { ext: 'mime', group: 'mimeopt' },
  param: { ext: 'mime', group: 'mimeopt', arg: 'stringlist' as const },
};
export const INDEX_TAGS = {
  index: { ext: 'index', arg: 'number' as const },
  last: { ext: 'index' },
};

export function validateIndex(node: Node, ctx: { error(n: Node, m: string): void }): void {
  if (node.tags.last !== undefined && node.tags.index === undefined)
    ctx.error(node, 'the :last tag requires the :index tag');
  if (typeof node.tags.index === 'number' && node.tags.index < 1)
    ctx.error(node, 'the :index argument must be at least 1');
  const mimeOpt = node.tags.type ?? node.tags.subtype ?? node.tags.contenttype ?? node.tags.param;
  if (mimeOpt !== undefined && node.tags.mime === undefined)
    ctx.error(node, 'the :type, :subtype, :contenttype and :param tags require the :mime tag');
  if (node.tags.anychild !== undefined && node.tags.mime === undefined)
    ctx.error(node, 'the :anychild tag requires the :mime tag');
}

function redirectAddress(s: string) {
  const list = parseAddressList(s);
  const a = list?.length === 1 ? list[0]! : null;
  // an outgoing envelope address: ASCII only (no SMTPUTF8 for redirect)
  return a?.domain && /^[\x20-\x7e]+$/.test(a.localPart) ? a : null;
}

/** RFC 6154 special-use attributes are a backslash and an atom ("\\Sent"). */
export function validSpecialUseFlag(flag: string): boolean {
  return /^\\[A-Za-z]+$/.test(flag);
}

export function validMailboxName(name: string): boolean {
  if (name === '' || name.length > 1024) return false;
  if (/[\x00-\x1f\x7f]/.test(name)) return false;
  if (name.includes('\ufffd')) return false;
  return true;
}
