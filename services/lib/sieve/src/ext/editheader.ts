/** editheader (RFC 5293): addheader and deleteheader change the message later tests and actions see. */
import { COMPARATOR_TAGS, list, type Registry, str } from '../core.js';
import { headerValue } from '../message.js';
import { utf8ToLatin1 } from '../runtime.js';
import { validateMatch } from './common.js';

/** Fields a script may never add or delete. */
const PROTECTED = new Set(['received', 'auto-submitted']);
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
    },
    run(node, rt) {
      const name = rt.estr(node.pos[0]);
      if (!FIELD_NAME.test(name))
        rt.error(node, `addheader action: specified field name '${name}' is invalid`);
      // line breaks become folding: the value unfolds to what the script wrote, minus the breaks
      const value = rt
        .estr(node.pos[1])
        .replace(/(\r?\n)+$/, '')
        .replace(/\r?\n(?![ \t])/g, '\r\n ')
        .replace(/\r?\n/g, '\r\n');
      if (PROTECTED.has(name.toLowerCase())) return;
      const raw = ` ${utf8ToLatin1(encodeValue(value))}`;
      const limit = rt.state.limits.maxHeaderBytes;
      if (name.length + raw.length + 1 > limit)
        rt.error(node, `addheader action: header field is too large (limit is ${limit} bytes)`);
      const field = { name, raw };
      if (node.tags.last !== undefined) rt.message.headers.push(field);
      else rt.message.headers.unshift(field);
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
      if (PROTECTED.has(name)) return;
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
