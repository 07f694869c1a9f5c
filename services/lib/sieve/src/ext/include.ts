/** include (RFC 6609): included scripts are compiled with the includer; return; global variables. */

import type { IncludedScript } from '../compile.js';
import { type Node, type Registry, str } from '../core.js';
import { ReturnSignal, Runtime } from '../runtime.js';

const MAX_RUNTIME_DEPTH = 10;

export function registerInclude(reg: Registry): void {
  reg.known.add('include');
  reg.add({
    name: 'include',
    kind: 'command',
    ext: 'include',
    pos: ['string'],
    tags: {
      personal: { group: 'location' },
      global: { group: 'location' },
      once: {},
      optional: {},
    },
    validate(node, ctx) {
      const name = str(node.pos[0])!;
      if (name.includes('/') || name === '' || name.includes('\0')) {
        ctx.error(node, `invalid script name '${name}' for include`);
        return;
      }
      const location = node.tags.global !== undefined ? 'global' : 'personal';
      const key = ctx.include?.(
        node,
        name,
        location,
        node.tags.optional !== undefined,
        node.tags.once !== undefined,
      );
      node.data = { key: key ?? null };
    },
    async run(node, rt) {
      const key = node.data?.key as string | null;
      if (!key) return; // optional and missing
      const script = rt.includes[key] as IncludedScript | undefined;
      if (!script) return;
      const done = rt.state.included;
      if (node.tags.once !== undefined && done.has(key)) return;
      done.add(key);
      const { depth } = rt;
      if (depth >= MAX_RUNTIME_DEPTH) rt.error(node, 'include nesting too deep');
      const sub = new Runtime(
        rt.state,
        rt.registry,
        new Set(script.requires),
        rt.includes,
        rt.globals,
        key,
        new Set(),
      );
      sub.depth = depth + 1;
      sub.flags = rt.flags;
      sub.currentPart = rt.currentPart;
      sub.partStack = rt.partStack;
      try {
        await sub.runBlock(script.body);
      } catch (e) {
        if (!(e instanceof ReturnSignal)) throw e;
      }
      rt.flags = sub.flags;
    },
  });
  reg.add({
    name: 'return',
    kind: 'command',
    ext: 'include',
    pos: [],
    run() {
      throw new ReturnSignal();
    },
  });
  reg.add({
    name: 'global',
    kind: 'command',
    ext: 'include',
    pos: ['stringlist'],
    validate(node: Node, ctx) {
      if (!ctx.has('variables')) ctx.error(node, 'the global command requires require "variables"');
      for (const n of Array.isArray(node.pos[0]) ? node.pos[0] : []) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) ctx.error(node, `invalid variable name '${n}' for global`);
        // RFC 6609 3.3: a variable already used as a local one cannot become global
        else if (ctx.locals?.has(n.toLowerCase()) && !ctx.globals.has(n.toLowerCase()))
          ctx.error(node, `global variable '${n}' was already used as a local variable`);
        ctx.globals.add(n.toLowerCase());
      }
    },
    run(node, rt) {
      for (const n of Array.isArray(node.pos[0]) ? node.pos[0] : []) rt.globalNames.add(n.toLowerCase());
    },
  });
}
