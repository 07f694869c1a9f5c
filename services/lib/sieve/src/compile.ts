/** Compiler: parse, check every command against its definition and the required extensions. */
import {
  type ArgKind,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_NOTIFICATIONS,
  type Node,
  type Registry,
  str,
  type ValidateContext,
  type Value,
} from './core.js';
import { defaultRegistry } from './definitions.js';
import { ihaveAvailable } from './ext/environment.js';
import { SIEVE_EXTENSIONS } from './extensions.js';
import { scriptInputs } from './inputs.js';
import { type Arg, type ParsedNode, parseSieve } from './parser.js';
import type { CompiledScript, CompileOptions, CompileResult, SieveError } from './types.js';

export interface IncludedScript {
  requires: string[];
  body: Node[];
  globals: string[];
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_MAX_NESTING = 32;

/** Validation state of one script: the extensions in scope, and unknown names already reported. */
type Ctx = ValidateContext & {
  scope: Set<string>;
  unknown: Set<string>;
  loopNames: Array<string | undefined>;
};

interface CompileSession {
  registry: Registry;
  options: CompileOptions;
  includes: Record<string, IncludedScript>;
  stack: string[];
  count: number;
}

export function compileSieve(source: string, options: CompileOptions = {}): CompileResult {
  return compileWith(defaultRegistry, source, options);
}

/** Compiles with a given registry (the test harness adds its test-only commands to a copy). */
export function compileWith(registry: Registry, source: string, options: CompileOptions = {}): CompileResult {
  const session: CompileSession = { registry, options, includes: {}, stack: [], count: 0 };
  const errors: SieveError[] = [];
  const warnings: SieveError[] = [];
  const result = compileOne(session, source, errors, warnings, false);
  if (errors.length || !result)
    return {
      ok: false,
      errors: errors.length ? errors : [{ line: 0, column: 0, message: 'compile failed' }],
    };
  const script: CompiledScript = {
    format: 'hermod-sieve/1',
    // Right after format: the stored text starts with it (a generated column reads it there).
    inputs: scriptInputs(result.body, session.includes),
    requires: result.requires,
    body: result.body,
    includes: session.includes,
  };
  return { ok: true, script, requires: result.requires, warnings };
}

function compileOne(
  session: CompileSession,
  source: string,
  errors: SieveError[],
  warnings: SieveError[],
  included: boolean,
): IncludedScript | undefined {
  const { options, registry } = session;
  const errorsBefore = errors.length;
  const maxBytes = options.maxScriptBytes ?? DEFAULT_MAX_BYTES;
  const size = Buffer.byteLength(source, 'utf8');
  if (size > maxBytes) {
    errors.push({
      line: 0,
      column: 0,
      message: `script is too large (${size} bytes, limit is ${maxBytes} bytes)`,
    });
    return undefined;
  }
  const maxNesting = options.maxNesting ?? DEFAULT_MAX_NESTING;
  const parsed = parseSieve(source, errors, maxNesting);
  if (errors.length) return undefined;
  const offered = new Set(options.extensions ?? SIEVE_EXTENSIONS);
  const requires: string[] = [];
  const globals = new Set<string>();
  const ctx: Ctx = {
    scope: new Set<string>(),
    unknown: new Set<string>(),
    loopNames: [],
    has(ext: string) {
      return this.scope.has(ext);
    },
    error(node, message) {
      errors.push({ line: node.line, column: node.column, message });
    },
    warning(node, message) {
      warnings.push({ line: node.line, column: node.column, message });
    },
    options: {
      maxNesting,
      maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      maxNotifications: options.maxNotifications ?? DEFAULT_MAX_NOTIFICATIONS,
    },
    globals,
    included,
    loopDepth: 0,
    include(node, name, location, optional, once) {
      const key = `${location}:${name}`;
      if (session.stack.includes(key) && once) return key; // :once ends the recursion at run time
      if (session.stack.includes(key)) {
        ctx.error(node, `circular include of script '${name}' (${location})`);
        return undefined;
      }
      if (session.includes[key]) return key;
      if (session.stack.length >= (options.maxIncludeDepth ?? 10)) {
        ctx.error(node, `include nesting too deep (limit is ${options.maxIncludeDepth ?? 10})`);
        return undefined;
      }
      if (session.count >= (options.maxIncludes ?? 255)) {
        ctx.error(node, `too many included scripts (limit is ${options.maxIncludes ?? 255})`);
        return undefined;
      }
      const text = options.includeResolver?.(name, location);
      if (text === undefined) {
        if (optional) return undefined;
        ctx.error(node, `included ${location} script '${name}' does not exist`);
        return undefined;
      }
      session.stack.push(key);
      session.count++;
      const sub: SieveError[] = [];
      const compiled = compileOne(session, text, sub, warnings, true);
      session.stack.pop();
      if (!compiled) {
        // The included script's own errors (its line), then one for this include, at each level
        // (as Pigeonhole reports them: a circular include two levels down is three errors).
        for (const e of sub) ctx.error(node, `in included script '${name}', line ${e.line}: ${e.message}`);
        ctx.error(node, `failed to include script '${name}' (${location})`);
        return undefined;
      }
      session.includes[key] = compiled;
      return key;
    },
  };

  // require commands come first, at top level
  let seenOther = false;
  for (const p of parsed) {
    if (p.name === 'require') {
      if (seenOther) {
        ctx.error(p, 'require command can only be placed at top level at the beginning of the file');
        continue;
      }
      const arg = p.args[0];
      if (
        p.args.length !== 1 ||
        !arg ||
        (arg.type !== 'string' && arg.type !== 'stringlist') ||
        p.tests.length
      ) {
        ctx.error(p, 'the require command expects a string list argument (capabilities)');
        continue;
      }
      if (p.block) ctx.error(p, 'the require command does not take a block');
      for (const ext of arg.type === 'string' ? [arg.value] : arg.values) {
        const e = ext.toLowerCase();
        if (!offered.has(e) || !registry.known.has(e)) {
          ctx.error(p, `require: unknown Sieve capability '${ext}'`);
          continue;
        }
        if (!ctx.scope.has(e)) {
          ctx.scope.add(e);
          requires.push(e);
          for (const implied of IMPLIES[e] ?? []) ctx.scope.add(implied);
        }
      }
    } else seenOther = true;
  }
  // RFC 5703 section 7: extracttext is only usable together with foreverypart (and variables)
  const requireNode = parsed.find((p) => p.name === 'require');
  if (requireNode && ctx.scope.has('extracttext') && !ctx.scope.has('foreverypart'))
    ctx.error(requireNode, 'the extracttext extension cannot be used without the foreverypart extension');
  const body = validateBlock(
    session,
    ctx,
    parsed.filter((p) => p.name !== 'require'),
    0,
    true,
  );
  if (errors.length > errorsBefore) return undefined;
  return { requires, body, globals: [...globals] };
}

/** Extensions that make others' commands available (spamtestplus implies spamtest etc.). */
const IMPLIES: Record<string, string[]> = {
  spamtestplus: ['spamtest'],
  'vacation-seconds': ['vacation'],
};

function validateBlock(
  session: CompileSession,
  ctx: Ctx,
  nodes: ParsedNode[],
  depth: number,
  top: boolean,
): Node[] {
  const out: Node[] = [];
  let prev: string | null = null;
  for (const p of nodes) {
    if (p.name === 'require') {
      ctx.error(p, 'require command can only be placed at top level at the beginning of the file');
      prev = p.name;
      continue;
    }
    if ((p.name === 'elsif' || p.name === 'else') && prev !== 'if' && prev !== 'elsif') {
      ctx.error(p, `${p.name} command must follow an if or elsif command`);
    }
    prev = p.name;
    const node = validateNode(session, ctx, p, 'command', depth);
    if (node) out.push(node);
  }
  void top;
  return out;
}

function decodeEncodedCharacters(
  s: string,
  node: { line: number; column: number },
  ctx: ValidateContext,
): string {
  if (!s.includes('${')) return s;
  return s.replace(/\$\{(hex|unicode):([^}$]*)\}/gi, (whole, kind: string, body: string) => {
    const items = body.trim() === '' ? [] : body.trim().split(/\s+/);
    const hex = kind.toLowerCase() === 'hex';
    if (!items.length || !items.every((x) => (hex ? /^[0-9a-fA-F]{1,2}$/ : /^[0-9a-fA-F]+$/).test(x)))
      return whole;
    if (kind.toLowerCase() === 'hex') {
      return Buffer.from(items.map((x) => Number.parseInt(x, 16) & 0xff)).toString('utf8');
    }
    let r = '';
    for (const x of items) {
      const cp = Number.parseInt(x, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        ctx.error(node, `invalid unicode character 0x${x} in encoded character substitution`);
        return whole;
      }
      r += String.fromCodePoint(cp);
    }
    return r;
  });
}

function validateNode(
  session: CompileSession,
  ctx: Ctx,
  p: ParsedNode,
  kind: 'command' | 'test',
  depth: number,
): Node | undefined {
  const reg = session.registry;
  const def = (kind === 'command' ? reg.commands : reg.tests).get(p.name);
  const exts = def?.ext === undefined ? [] : Array.isArray(def.ext) ? def.ext : [def.ext];
  if (!def || (exts.length > 0 && !exts.some((e) => ctx.has(e)))) {
    const other = (kind === 'command' ? reg.tests : reg.commands).has(p.name);
    if (def && exts.length)
      ctx.error(p, `unknown ${kind} '${p.name}' (only available with require "${exts[0]}")`);
    else if (other)
      ctx.error(p, `attempted to use ${kind === 'command' ? 'test' : 'command'} '${p.name}' as ${kind}`);
    else if (!ctx.unknown.has(p.name)) {
      // reported once per script: a misspelled name used many times is one mistake
      ctx.unknown.add(p.name);
      ctx.error(
        p,
        `unknown ${kind} '${p.name}' (perhaps it is misspelled or its extension is not required; reported only once)`,
      );
    }
    return undefined;
  }
  const what = `${p.name} ${kind}`;
  const node: Node = {
    name: p.name,
    line: p.line,
    column: p.column,
    tags: {},
    pos: [],
    tests: [],
    block: null,
  };
  const encoded = ctx.has('encoded-character');
  const fix = (s: string) => (encoded ? decodeEncodedCharacters(s, p, ctx) : s);
  const conv = (a: Arg, want: ArgKind, label: string): Value | undefined => {
    if (want === 'number') {
      if (a.type !== 'number') {
        ctx.error(a, `the ${what} expects a number as ${label}, but ${describe(a)} was found`);
        return undefined;
      }
      return a.value;
    }
    if (a.type === 'string') return want === 'stringlist' ? [fix(a.value)] : fix(a.value);
    if (a.type === 'stringlist') {
      if (want === 'string') {
        ctx.error(a, `the ${what} expects a string as ${label}, but a string list was found`);
        return undefined;
      }
      return a.values.map(fix);
    }
    ctx.error(
      a,
      `the ${what} expects a ${want === 'string' ? 'string' : 'string list'} as ${label}, but ${describe(a)} was found`,
    );
    return undefined;
  };
  const groups = new Map<string, string>();
  let bad = false;
  for (let i = 0; i < p.args.length; i++) {
    const a = p.args[i]!;
    if (a.type === 'tag') {
      const tag = def.tags?.[a.name];
      if (!tag || (tag.ext && !ctx.has(tag.ext))) {
        ctx.error(a, `unknown tagged argument ':${a.name}' for the ${what} (argument ${i + 1})`);
        bad = true;
        break;
      }
      // RFC 5228 section 2.6: tagged arguments come before the positional ones
      if (node.pos.length > 0) {
        ctx.error(
          a,
          `encountered an unexpected tagged argument ':${a.name}' after the positional arguments of the ${what}`,
        );
        bad = true;
        break;
      }
      if (node.tags[a.name] !== undefined) {
        ctx.error(a, `tagged argument ':${a.name}' specified more than once for the ${what}`);
        bad = true;
        break;
      }
      if (tag.group) {
        const other = groups.get(tag.group);
        if (other && other !== a.name) {
          ctx.error(a, `tagged argument ':${a.name}' conflicts with ':${other}' for the ${what}`);
          bad = true;
          break;
        }
        groups.set(tag.group, a.name);
      }
      if (tag.arg) {
        const next = p.args[i + 1];
        if (!next || next.type === 'tag') {
          ctx.error(a, `the :${a.name} tag for the ${what} requires one ${tag.arg} argument`);
          bad = true;
          break;
        }
        i++;
        const v = conv(next, tag.arg, `argument of :${a.name}`);
        if (v === undefined) {
          bad = true;
          break;
        }
        node.tags[a.name] = v;
      } else node.tags[a.name] = true;
      continue;
    }
    const k = node.pos.length;
    const want = def.pos[k];
    if (!want) {
      const given = p.args.filter((x) => x.type !== 'tag').length;
      ctx.error(
        a,
        `the ${what} requires ${def.pos.length} positional argument(s), but ${given} were specified`,
      );
      bad = true;
      break;
    }
    const v = conv(a, want, `argument ${k + 1}${def.posNames?.[k] ? ` (${def.posNames[k]})` : ''}`);
    if (v === undefined) {
      bad = true;
      break;
    }
    node.pos.push(v);
  }
  const missing = !bad && node.pos.length < def.pos.length - (def.optional ?? 0);
  const reportMissing = () =>
    ctx.error(
      p,
      `the ${what} requires ${def.pos.length} positional argument(s), but ${node.pos.length} were specified`,
    );
  // a test's missing arguments are an argument error; a command's are only reported once its tests and block
  // are right (a command followed by a test mostly lacks a ';', which is the error to report)
  if (missing && kind === 'test') {
    reportMissing();
    bad = true;
  }
  // Arguments, then tests, then block: a wrong block is only reported when the rest is right, and tests are
  // checked even after an argument error (a tag written without ':' reads as a test).
  const testsWanted = def.tests ?? 'none';
  let testsBad = true;
  if (testsWanted === 'none' && p.tests.length) {
    const first = p.tests[0]!;
    if (reg.tests.has(first.name)) ctx.error(p, `the ${what} accepts no sub-tests, but tests are specified`);
    else if (def.tags?.[first.name] && !reg.commands.has(first.name))
      ctx.error(p, `missing colon ':' before ':${first.name}' tag in ${what}`);
    else ctx.error(p, `missing semicolon ';' after ${what}`);
  } else if (testsWanted === 'one' && p.tests.length === 0)
    ctx.error(p, `the ${what} requires one sub-test, but none is specified`);
  else if (testsWanted === 'one' && p.tests.length > 1)
    ctx.error(p, `the ${what} requires one sub-test, but a list of tests is specified`);
  else if (testsWanted === 'list' && p.tests.length === 0)
    ctx.error(p, `the ${what} requires a list of sub-tests, but none is specified`);
  else testsBad = false;
  if (testsBad) bad = true;
  else if (!bad && def.block === 'required' && !p.block) {
    ctx.error(p, `the ${what} requires a block`);
    bad = true;
  } else if (!bad && def.block !== 'required' && p.block) {
    ctx.error(p, `the ${what} does not take a block`);
    bad = true;
  }
  if (missing && !bad) {
    reportMissing();
    bad = true;
  }
  if (depth > ctx.options.maxNesting) {
    ctx.error(p, `nesting too deep (limit is ${ctx.options.maxNesting})`);
    return undefined;
  }
  // ihave guards its block: extensions it names are in scope there when supported
  let blockScope: string[] = [];
  let skipBlock = false;
  if (p.name === 'if' || p.name === 'elsif') {
    const t = p.tests[0];
    if (t?.name === 'ihave' && ctx.has('ihave')) {
      const a = t.args[0];
      const names = a?.type === 'string' ? [a.value] : a?.type === 'stringlist' ? a.values : [];
      const offered = new Set(session.options.extensions ?? SIEVE_EXTENSIONS);
      if (
        names.every(
          (n) => offered.has(n.toLowerCase()) && ihaveAvailable(n.toLowerCase(), session.registry.known),
        )
      )
        blockScope = names.map((n) => n.toLowerCase());
      else skipBlock = true;
    }
  }
  // tests and block are still looked into after an error in this command, when the command has them
  for (const t of testsWanted === 'none' ? [] : p.tests) {
    const tn = validateNode(session, ctx, t, 'test', depth + 1);
    if (tn) node.tests.push(tn);
    else bad = true;
  }
  if (def.block === 'required' && p.block) {
    if (skipBlock) node.block = [];
    else {
      const added = blockScope.filter((e) => !ctx.scope.has(e));
      for (const e of added) ctx.scope.add(e);
      const loop = p.name === 'foreverypart';
      if (loop) {
        ctx.loopDepth++;
        ctx.loopNames.push(typeof node.tags.name === 'string' ? node.tags.name : undefined);
      }
      node.block = validateBlock(session, ctx, p.block, depth + 1, false);
      if (loop) {
        ctx.loopDepth--;
        ctx.loopNames.pop();
      }
      for (const e of added) ctx.scope.delete(e);
    }
  }
  if (bad) return undefined;
  if (p.name === 'break' && ctx.loopDepth === 0)
    ctx.error(p, 'the break command is not placed inside a foreverypart loop');
  else if (
    p.name === 'break' &&
    typeof node.tags.name === 'string' &&
    !ctx.loopNames.includes(node.tags.name)
  )
    // RFC 5703 section 3.2: the name must be that of an enclosing loop
    ctx.error(p, `the break command names '${node.tags.name}', which is not an enclosing foreverypart loop`);
  if (p.name === 'foreverypart' && ctx.loopDepth >= 4)
    ctx.error(p, 'foreverypart loops nested too deeply (limit is 4)');
  if (p.name === 'extracttext' && ctx.loopDepth === 0)
    ctx.error(p, 'the extracttext command is not placed inside a foreverypart loop');
  def.validate?.(node, ctx);
  return node;
}

function describe(a: Arg): string {
  switch (a.type) {
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'stringlist':
      return 'a string list';
    case 'tag':
      return `tag :${a.name}`;
  }
}

export { str };
