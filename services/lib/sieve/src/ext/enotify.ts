/** enotify (RFC 5435) with the mailto method (RFC 5436). */
import { COMPARATOR_TAGS, list, type Registry, str } from '../core.js';
import { parseAddressList } from '../message.js';
import type { RunState } from '../runtime.js';
import { validateMatch } from './common.js';

/** Parses a mailto: URI (RFC 6068); returns the recipients or an error text. */
export function parseMailto(uri: string): { to: string[]; headers: [string, string][] } | string {
  const m = /^mailto:([^?]*)(?:\?(.*))?$/is.exec(uri);
  if (!m) return 'not a mailto URI';
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return undefined;
    }
  };
  const to: string[] = [];
  const headers: [string, string][] = [];
  const toPart = decode(m[1]!);
  if (toPart === undefined) return 'invalid percent encoding';
  const addTo = (value: string) => {
    if (value.trim() === '') return true;
    const list = parseAddressList(value);
    if (!list?.length) return false;
    for (const a of list) to.push(`${a.localPart}@${a.domain}`);
    return true;
  };
  if (!addTo(toPart)) return `invalid recipient '${toPart}'`;
  // RFC 6068 2: hfname and hfvalue are *qchar (unreserved, pct-encoded, some-delims) before decoding
  const qchars = /^(?:[A-Za-z0-9\-._~!$'()*+,;:@]|%[0-9A-Fa-f]{2})*$/;
  for (const pair of (m[2] ?? '').split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (!qchars.test(eq < 0 ? pair : pair.slice(0, eq)) || (eq >= 0 && !qchars.test(pair.slice(eq + 1))))
      return 'invalid character in header';
    const hname = decode(eq < 0 ? pair : pair.slice(0, eq));
    const hvalue = decode(eq < 0 ? '' : pair.slice(eq + 1));
    if (hname === undefined || hvalue === undefined || !/^[\x21-\x39\x3b-\x7e]+$/.test(hname))
      return 'invalid header';
    if (hname.toLowerCase() === 'to') {
      if (!addTo(hvalue)) return `invalid recipient '${hvalue}'`;
    } else headers.push([hname, hvalue]);
  }
  if (!to.length) return 'no recipients';
  return { to, headers };
}

function validMethod(uri: string): boolean {
  return typeof parseMailto(uri) !== 'string';
}

export function registerEnotify(reg: Registry): void {
  reg.known.add('enotify');
  reg.add({
    name: 'notify',
    kind: 'command',
    ext: 'enotify',
    pos: ['string'],
    tags: {
      from: { arg: 'string' },
      importance: { arg: 'string' },
      options: { arg: 'stringlist' },
      message: { arg: 'string' },
    },
    validate(node, ctx) {
      if (ctx.options.maxNotifications === 0)
        ctx.error(node, 'notify command: local policy prohibits the use of a notify action');
      const method = str(node.pos[0])!;
      const dynamic = (s: string) => ctx.has('variables') && s.includes('${');
      if (!dynamic(method)) {
        if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(method))
          ctx.error(node, `invalid notify method URI '${method}'`);
        else if (!/^mailto:/i.test(method))
          ctx.error(node, `notify command: unsupported notification method '${method.split(':')[0]}'`);
        else {
          const r = parseMailto(method);
          if (typeof r === 'string') ctx.error(node, `notify command: invalid mailto URI '${method}': ${r}`);
        }
      }
      const imp = str(node.tags.importance);
      if (imp !== undefined && !dynamic(imp) && !['1', '2', '3'].includes(imp))
        ctx.error(node, `notify command: invalid :importance '${imp}'`);
      const from = str(node.tags.from);
      if (from !== undefined && !dynamic(from) && !parseAddressList(from)?.length)
        ctx.error(node, `notify command: invalid :from address '${from}'`);
      for (const o of list(node.tags.options)) {
        // RFC 5435 3.7: optionname "=" optionvalue, a value without NUL, CR or LF
        if (!dynamic(o) && !/^[A-Za-z0-9][A-Za-z0-9._-]*=[^\0\r\n]*$/.test(o))
          ctx.error(node, `notify command: invalid option '${o}'`);
      }
    },
    run(node, rt) {
      const method = rt.estr(node.pos[0]);
      const parsed = parseMailto(method);
      if (typeof parsed === 'string')
        rt.error(node, `notify action: invalid mailto URI '${method}': ${parsed}`);
      const from = node.tags.from !== undefined ? rt.estr(node.tags.from) : undefined;
      const importance = node.tags.importance !== undefined ? rt.estr(node.tags.importance) : undefined;
      let message = node.tags.message !== undefined ? rt.estr(node.tags.message) : undefined;
      if (message === undefined) {
        const f = rt.headerValues({ ...node, tags: {} }, ['from'])[0] ?? '';
        const s = rt.headerValues({ ...node, tags: {} }, ['subject'])[0] ?? '';
        message = `${f}: ${s}`;
      }
      rt.addAction(node, {
        kind: 'notify',
        method,
        ...(from !== undefined ? { from } : {}),
        ...(importance !== undefined ? { importance } : {}),
        message,
        options: rt.elist(node.tags.options),
      });
    },
  });
  reg.add({
    name: 'valid_notify_method',
    kind: 'test',
    ext: 'enotify',
    pos: ['stringlist'],
    test(node, rt) {
      return rt.elist(node.pos[0]).every(validMethod);
    },
  });
  reg.add({
    name: 'notify_method_capability',
    kind: 'test',
    ext: 'enotify',
    pos: ['string', 'string', 'stringlist'],
    tags: { ...COMPARATOR_TAGS },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[2]));
    },
    test(node, rt) {
      const uri = rt.estr(node.pos[0]);
      const cap = rt.estr(node.pos[1]).toLowerCase();
      if (!validMethod(uri) || cap !== 'online') return false;
      return rt.match(node, ['maybe'], list(node.pos[2]));
    },
  });
}

/** RFC 5436 section 2.7: no notification about a message that is itself automatic. */
export function notifyAllowed(state: RunState): boolean {
  return !state.message.headers.some(
    (h) => h.name.toLowerCase() === 'auto-submitted' && !/^\s*no\b/i.test(h.raw.replace(/\r?\n/g, '')),
  );
}
