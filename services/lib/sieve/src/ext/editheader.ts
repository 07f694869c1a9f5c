/** editheader (RFC 5293): addheader and deleteheader change the message later tests and actions see. */
import { COMPARATOR_TAGS, list, type Registry, str } from '../core.js';
import { headerValue } from '../message.js';
import { utf8ToLatin1 } from '../runtime.js';
import { validateMatch } from './common.js';

/** Fields a script may never delete (RFC 5293 section 7); adding them is allowed. */
const NEVER_DELETED = new Set(['received', 'auto-submitted']);
/** The one field that cannot be protected from a script (RFC 5293 section 7). */
const UNPROTECTABLE = 'subject';
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function encodeValue(value: string): string {
  if (/^[\x20-\x7e\t\r\n]*$/.test(value)) return value;
  // RFC 2047 encoded words of at most 75 characters
  const words: string[] = [];
  let chunk = '';
  for (const ch of Array.from(value)) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

export function registerEditheader(reg: Registry): void {
  reg.known.add('editheader');
  reg.add({
    name: 'addheader',
    kind: 'command',
    ext: 'editheader',
    pos: ['string', 'string'],
    tags: { last: {} },
    validate(node, ctx) {
      const name = str(node.pos[0])!;
      if (!(ctx.has('variables') && name.includes('${')) && !FIELD_NAME.test(name))
        ctx.error(node, `addheader command: specified field name '${name}' is invalid`);
      const value = str(node.pos[1])!;
      // RFC 5322 field bodies hold no control characters but folding whitespace (RFC 5293 4).
      if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value))
        ctx.error(node, `addheader command: specified value '${value}' is invalid`);
      const limit = ctx.options.maxHeaderBytes;
      if (!(ctx.has('variables') && value.includes('${')) && Buffer.byteLength(value, 'utf8') > limit)
        ctx.error(node, `addheader command: specified header value is too large (limit is ${limit} bytes)`);
    },
    run(node, rt) {
      const name = rt.estr(node.pos[0]);
      if (!FIELD_NAME.test(name))
        rt.error(node, `addheader action: specified field name '${name}' is invalid`);
      const given = rt.estr(node.pos[1]);
      const limit = rt.state.limits.maxHeaderBytes;
      if (Buffer.byteLength(given, 'utf8') > limit)
        rt.error(node, `addheader action: header value is too large (limit is ${limit} bytes)`);
      // line breaks become folding: the value unfolds to what the script wrote, minus the breaks
      const value = given
        .replace(/(\r?\n)+$/, '')
        .replace(/\r?\n(?![ \t])/g, '\r\n ')
        .replace(/\r?\n/g, '\r\n');
      const lower = name.toLowerCase();
      if (lower !== UNPROTECTABLE && rt.env.editheaderForbidAdd?.includes(lower)) return;
      const raw = ` ${utf8ToLatin1(encodeValue(value))}`;
      const field = { name, raw };
      // A new list: the fields read so far may be the message's parse, shared with other runs.
      const headers = rt.message.headers;
      rt.message.headers = node.tags.last !== undefined ? [...headers, field] : [field, ...headers];
      rt.message.changed();
    },
  });
  reg.add({
    name: 'deleteheader',
    kind: 'command',
    ext: 'editheader',
    pos: ['string', 'stringlist'],
    optional: 1,
    tags: { ...COMPARATOR_TAGS, index: { arg: 'number' }, last: {} },
    validate(node, ctx) {
      // :last without :index is refused before anything else is checked
      if (node.tags.last !== undefined && node.tags.index === undefined) {
        ctx.error(node, 'deleteheader command: the :last tag cannot be specified without the :index tag');
        return;
      }
      const name = str(node.pos[0])!;
      if (!(ctx.has('variables') && name.includes('${')) && !FIELD_NAME.test(name))
        ctx.error(node, `deleteheader command: specified field name '${name}' is invalid`);
      validateMatch(node, ctx, node.pos.length > 1 ? list(node.pos[1]) : []);
    },
    run(node, rt) {
      const name = rt.estr(node.pos[0]).toLowerCase();
      if (!FIELD_NAME.test(name))
        rt.error(node, `deleteheader action: specified field name '${name}' is invalid`);
      if (NEVER_DELETED.has(name)) return;
      if (name !== UNPROTECTABLE && rt.env.editheaderForbidDelete?.includes(name)) return;
      const headers = rt.message.headers;
      const positions = headers.map((h, i) => (h.name.toLowerCase() === name ? i : -1)).filter((i) => i >= 0);
      let targets = positions;
      if (typeof node.tags.index === 'number') {
        const idx = node.tags.index;
        const at = node.tags.last !== undefined ? positions[positions.length - idx] : positions[idx - 1];
        targets = at === undefined ? [] : [at];
      }
      if (node.pos.length > 1) {
        targets = targets.filter((i) =>
          rt.match(
            node,
            [headerValue(Buffer.from(headers[i]!.raw, 'latin1').toString('utf8'))],
            list(node.pos[1]),
          ),
        );
      }
      if (!targets.length) return;
      const drop = new Set(targets);
      rt.message.headers = headers.filter((_h, i) => !drop.has(i));
      rt.message.changed();
    },
  });
}
