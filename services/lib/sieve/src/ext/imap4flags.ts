/** imap4flags (RFC 5232): the internal flags variable, setflag/addflag/removeflag, hasflag, :flags. */
import { COMPARATOR_TAGS, list, type Node, type Registry, str } from '../core.js';
import type { Runtime } from '../runtime.js';
import { validateMatch } from './common.js';

export const FLAG_TAGS = { flags: { ext: 'imap4flags', arg: 'stringlist' as const } };

/** Splits, de-duplicates (case-insensitively) and normalises a list of flag strings. */
export function flagsOf(items: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    for (const f of item.split(/[ \t\r\n]+/)) {
      if (!f) continue;
      const k = f.toLowerCase();
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
    }
  }
  return out;
}

export function currentFlags(rt: Runtime): string[] {
  return rt.requires.has('imap4flags') ? flagsOf([rt.flags]) : [];
}

function read(rt: Runtime, variable: string | undefined): string[] {
  return flagsOf([variable === undefined ? rt.flags : rt.getVar(variable)]);
}
function write(rt: Runtime, variable: string | undefined, flags: string[]): void {
  const v = flags.join(' ');
  if (variable === undefined) rt.flags = v;
  else rt.setVar(variable, v);
}

function flagCommand(name: 'setflag' | 'addflag' | 'removeflag') {
  return {
    name,
    kind: 'command' as const,
    ext: 'imap4flags',
    pos: ['stringlist' as const, 'stringlist' as const],
    optional: 1,
    validate(node: Node, ctx: { error(n: Node, m: string): void; has(e: string): boolean }) {
      if (node.pos.length === 2) {
        if (!ctx.has('variables'))
          ctx.error(node, `the ${name} command takes a variable name only with require "variables"`);
        const v = list(node.pos[0]);
        if (v.length !== 1 || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(v[0]!))
          ctx.error(node, `invalid variable name for the ${name} command`);
      }
    },
    run(node: Node, rt: Runtime) {
      const variable = node.pos.length === 2 ? str(node.pos[0]) : undefined;
      const items = flagsOf(rt.elist(node.pos[node.pos.length - 1]));
      const cur = read(rt, variable);
      if (name === 'setflag') write(rt, variable, items);
      else if (name === 'addflag') write(rt, variable, flagsOf([...cur, ...items]));
      else {
        const drop = new Set(items.map((f) => f.toLowerCase()));
        write(
          rt,
          variable,
          cur.filter((f) => !drop.has(f.toLowerCase())),
        );
      }
    },
  };
}

export function registerImap4flags(reg: Registry): void {
  reg.known.add('imap4flags');
  reg.add(flagCommand('setflag'));
  reg.add(flagCommand('addflag'));
  reg.add(flagCommand('removeflag'));
  reg.add({
    name: 'hasflag',
    kind: 'test',
    ext: 'imap4flags',
    pos: ['stringlist', 'stringlist'],
    optional: 1,
    tags: { ...COMPARATOR_TAGS },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[node.pos.length - 1]));
      if (node.pos.length === 2 && !ctx.has('variables'))
        ctx.error(node, 'the hasflag test takes variable names only with require "variables"');
    },
    test(node, rt) {
      const values =
        node.pos.length === 2 ? flagsOf(list(node.pos[0]).map((v) => rt.getVar(v))) : flagsOf([rt.flags]);
      const keys = flagsOf(rt.elist(node.pos[node.pos.length - 1]));
      if (node.tags.count !== undefined) return rt.match(node, values, keys);
      return rt.match(node, values, keys);
    },
  });
}
