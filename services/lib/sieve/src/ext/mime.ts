/** mime, foreverypart and extracttext (RFC 5703). */
import { type Node, type Registry, str } from '../core.js';
import { decodePartBody, flattenParts, parseParams } from '../message.js';
import type { Runtime } from '../runtime.js';
import { htmlToText } from './body.js';
import { applyModifier, MODIFIER_TAGS } from './variables.js';

const MAX_LOOP_DEPTH = 4;

class BreakSignal {
  constructor(readonly name: string | undefined) {}
}

/** :type/:subtype/:contenttype/:param applied to Content-Type / Content-Disposition values. */
export function mimeOptionValues(
  node: Node,
  rt: Runtime,
  names: readonly string[],
  values: string[],
): string[] {
  const t = node.tags;
  if (t.type === undefined && t.subtype === undefined && t.contenttype === undefined && t.param === undefined)
    return values;
  if (!names.every((n) => ['content-type', 'content-disposition'].includes(n.toLowerCase()))) return values;
  const out: string[] = [];
  for (const v of values) {
    const { value, params } = parseParams(v);
    const [type = '', subtype = ''] = value.split('/');
    if (t.type !== undefined) out.push(type);
    else if (t.subtype !== undefined) out.push(subtype);
    else if (t.contenttype !== undefined) out.push(value);
    else
      for (const p of rt.elist(t.param))
        if (params[p.toLowerCase()] !== undefined) out.push(params[p.toLowerCase()]!);
  }
  return out;
}

export function registerMime(reg: Registry): void {
  for (const e of ['mime', 'foreverypart', 'extracttext']) reg.known.add(e);
  reg.add({
    name: 'foreverypart',
    kind: 'command',
    ext: 'foreverypart',
    pos: [],
    tags: { name: { arg: 'string' } },
    block: 'required',
    async run(node, rt) {
      const depth = rt.partStack.length;
      if (depth >= MAX_LOOP_DEPTH)
        rt.error(node, `foreverypart loops nested too deeply (limit is ${MAX_LOOP_DEPTH})`);
      const base = rt.currentPart ?? rt.message.root();
      const parts = rt.currentPart ? flattenParts(base).slice(1) : flattenParts(base);
      const saved = rt.currentPart;
      rt.partStack.push(base);
      try {
        for (const part of parts) {
          rt.checkBudget(node);
          rt.currentPart = part;
          try {
            await rt.runBlock(node.block ?? []);
          } catch (e) {
            if (e instanceof BreakSignal && (e.name === undefined || e.name === str(node.tags.name))) break;
            throw e;
          }
        }
      } finally {
        rt.partStack.pop();
        rt.currentPart = saved;
      }
    },
  });
  reg.add({
    name: 'break',
    kind: 'command',
    ext: 'foreverypart',
    pos: [],
    tags: { name: { arg: 'string' } },
    run(node) {
      throw new BreakSignal(str(node.tags.name));
    },
  });
  reg.add({
    name: 'extracttext',
    kind: 'command',
    ext: 'extracttext',
    pos: ['string'],
    tags: {
      first: { arg: 'number' },
      ...MODIFIER_TAGS,
    },
    validate(node, ctx) {
      if (!ctx.has('variables')) ctx.error(node, 'the extracttext command requires require "variables"');
      const name = str(node.pos[0])!;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        ctx.error(node, `invalid variable name '${name}' for extracttext`);
    },
    run(node, rt) {
      const part = rt.currentPart;
      if (!part) return rt.error(node, 'extracttext used outside foreverypart');
      let text = '';
      if (!part.children.length && part.contentType.startsWith('text/')) {
        text = decodePartBody(part);
        if (part.contentType === 'text/html') text = htmlToText(text);
      }
      if (typeof node.tags.first === 'number') text = Array.from(text).slice(0, node.tags.first).join('');
      for (const m of [
        'lower',
        'upper',
        'lowerfirst',
        'upperfirst',
        'quotewildcard',
        'quoteregex',
        'encodeurl',
        'length',
      ])
        if (node.tags[m] !== undefined) text = applyModifier(m, text);
      rt.setVar(str(node.pos[0])!, text);
    },
  });
}
