/**
 * A bounded regular-expression engine (POSIX extended syntax, as the Sieve regex draft asks) run as a Pike
 * VM: time linear in input length times program size, so no pattern backtracks catastrophically. The
 * caller passes a deadline that is checked while matching. Sieve `:matches` wildcards compile to the same
 * machine.
 */

type Inst =
  | { op: 'char'; c: string }
  | { op: 'any' }
  | { op: 'class'; ranges: [number, number][]; neg: boolean }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'save'; n: number }
  | { op: 'bol' }
  | { op: 'eol' }
  | { op: 'match' };

export interface Program {
  insts: Inst[];
  groups: number;
  icase: boolean;
  anchoredStart: boolean;
  /**
   * Characters every match contains in a row (lower-case when icase), or absent: an input without
   * them is refused before the VM runs (most inputs of a body rule, at a plain substring search's cost).
   */
  required?: string;
  /**
   * For a :matches pattern of literals and `*` only: the literals between the stars (A-Z folded when
   * icase), matched with indexOf instead of the VM (matchStars), with the same captures.
   */
  stars?: string[];
}

export class RegexError extends Error {}
export class BudgetExceeded extends Error {
  constructor() {
    super('cpu time budget exceeded');
  }
}

const MAX_INSTS = 20000;

type Ast =
  | { t: 'empty' }
  | { t: 'char'; c: string }
  | { t: 'any' }
  | { t: 'class'; ranges: [number, number][]; neg: boolean }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'group'; n: number | null; body: Ast }
  | { t: 'cat'; items: Ast[] }
  | { t: 'alt'; items: Ast[] }
  | { t: 'rep'; body: Ast; min: number; max: number; lazy: boolean };

const CLASSES: Record<string, [number, number][]> = {
  alpha: [
    [65, 90],
    [97, 122],
  ],
  digit: [[48, 57]],
  alnum: [
    [48, 57],
    [65, 90],
    [97, 122],
  ],
  upper: [[65, 90]],
  lower: [[97, 122]],
  space: [
    [9, 13],
    [32, 32],
  ],
  blank: [
    [9, 9],
    [32, 32],
  ],
  punct: [
    [33, 47],
    [58, 64],
    [91, 96],
    [123, 126],
  ],
  print: [[32, 126]],
  graph: [[33, 126]],
  cntrl: [
    [0, 31],
    [127, 127],
  ],
  xdigit: [
    [48, 57],
    [65, 70],
    [97, 102],
  ],
};

function parseRegex(src: string): { ast: Ast; groups: number } {
  const chars = Array.from(src);
  let i = 0;
  let groups = 0;
  const parseAlt = (): Ast => {
    const items = [parseCat()];
    while (chars[i] === '|') {
      i++;
      items.push(parseCat());
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  };
  const parseCat = (): Ast => {
    const items: Ast[] = [];
    while (i < chars.length && chars[i] !== '|' && chars[i] !== ')') {
      let atom = parseAtom();
      for (;;) {
        const q = chars[i];
        let min: number;
        let max: number;
        if (q === '*') {
          min = 0;
          max = Infinity;
          i++;
        } else if (q === '+') {
          min = 1;
          max = Infinity;
          i++;
        } else if (q === '?') {
          min = 0;
          max = 1;
          i++;
        } else if (q === '{' && /^\{\d+(,\d*)?\}/.test(chars.slice(i, i + 12).join(''))) {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(chars.slice(i, i + 12).join(''))!;
          min = Number(m[1]);
          max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
          if (max < min || min > 255 || (max !== Infinity && max > 255))
            throw new RegexError('invalid repetition count');
          i += m[0].length;
        } else break;
        if (atom.t === 'bol' || atom.t === 'eol') throw new RegexError('repetition of an anchor');
        atom = { t: 'rep', body: atom, min, max, lazy: false };
      }
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { t: 'cat', items };
  };
  const parseAtom = (): Ast => {
    const c = chars[i++]!;
    switch (c) {
      case '.':
        return { t: 'any' };
      case '^':
        return { t: 'bol' };
      case '$':
        return { t: 'eol' };
      case '(': {
        const n = ++groups;
        const body = parseAlt();
        if (chars[i] !== ')') throw new RegexError('parentheses not balanced');
        i++;
        return { t: 'group', n, body };
      }
      case '[':
        return parseClass();
      case '\\': {
        if (i >= chars.length) throw new RegexError('trailing backslash');
        return { t: 'char', c: chars[i++]! };
      }
      case '*':
      case '+':
      case '?':
        throw new RegexError(`repetition-operator operand invalid ('${c}')`);
      case '{':
        return { t: 'char', c };
      default:
        return { t: 'char', c };
    }
  };
  const parseClass = (): Ast => {
    let neg = false;
    if (chars[i] === '^') {
      neg = true;
      i++;
    }
    const ranges: [number, number][] = [];
    let first = true;
    while (i < chars.length && (chars[i] !== ']' || first)) {
      first = false;
      if (chars[i] === '[' && chars[i + 1] === ':') {
        const end = chars.indexOf(':', i + 2);
        const name = chars.slice(i + 2, end).join('');
        const cls = CLASSES[name];
        if (end < 0 || chars[end + 1] !== ']' || !cls) throw new RegexError('invalid character class');
        ranges.push(...cls);
        i = end + 2;
        continue;
      }
      const lo = chars[i++]!.codePointAt(0)!;
      if (chars[i] === '-' && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
        const hi = chars[i + 1]!.codePointAt(0)!;
        if (hi < lo) throw new RegexError('invalid character range');
        ranges.push([lo, hi]);
        i += 2;
      } else ranges.push([lo, lo]);
    }
    if (chars[i] !== ']') throw new RegexError('brackets ([ ]) not balanced');
    i++;
    return { t: 'class', ranges, neg };
  };
  const ast = parseAlt();
  if (i < chars.length) throw new RegexError('parentheses not balanced');
  return { ast, groups };
}

function emit(ast: Ast, out: Inst[]): void {
  if (out.length > MAX_INSTS) throw new RegexError('regular expression too large');
  switch (ast.t) {
    case 'empty':
      return;
    case 'char':
      out.push({ op: 'char', c: ast.c });
      return;
    case 'any':
      out.push({ op: 'any' });
      return;
    case 'class':
      out.push({ op: 'class', ranges: ast.ranges, neg: ast.neg });
      return;
    case 'bol':
      out.push({ op: 'bol' });
      return;
    case 'eol':
      out.push({ op: 'eol' });
      return;
    case 'group':
      if (ast.n !== null) out.push({ op: 'save', n: ast.n * 2 });
      emit(ast.body, out);
      if (ast.n !== null) out.push({ op: 'save', n: ast.n * 2 + 1 });
      return;
    case 'cat':
      for (const item of ast.items) emit(item, out);
      return;
    case 'alt': {
      const jumps: { op: 'jmp'; x: number }[] = [];
      ast.items.forEach((item, k) => {
        if (k < ast.items.length - 1) {
          const split: Inst = { op: 'split', x: out.length + 1, y: 0 };
          out.push(split);
          emit(item, out);
          const j = { op: 'jmp' as const, x: 0 };
          jumps.push(j);
          out.push(j);
          split.y = out.length;
        } else emit(item, out);
      });
      for (const j of jumps) j.x = out.length;
      return;
    }
    case 'rep': {
      const { body, min, max, lazy } = ast;
      for (let k = 0; k < min; k++) emit(body, out);
      if (max === Infinity) {
        const split: Inst = { op: 'split', x: 0, y: 0 };
        const at = out.length;
        out.push(split);
        emit(body, out);
        out.push({ op: 'jmp', x: at });
        if (lazy) {
          split.x = out.length;
          split.y = at + 1;
        } else {
          split.x = at + 1;
          split.y = out.length;
        }
      } else {
        const splits: { op: 'split'; x: number; y: number }[] = [];
        for (let k = min; k < max; k++) {
          const split = { op: 'split' as const, x: 0, y: 0 };
          splits.push(split);
          out.push(split);
          split.x = out.length;
          emit(body, out);
        }
        for (const s of splits) {
          if (lazy) {
            s.y = s.x;
            s.x = out.length;
          } else s.y = out.length;
        }
      }
      return;
    }
  }
}

export function compileRegex(src: string, icase: boolean): Program {
  const { ast, groups } = parseRegex(src);
  const insts: Inst[] = [];
  emit({ t: 'group', n: 0, body: ast }, insts);
  insts.push({ op: 'match' });
  const literal = requiredLiteral(ast);
  // Case-insensitive matching folds A-Z only (see lower()): a literal with other characters is not used.
  const required = icase ? (/^[\x00-\x7f]+$/.test(literal) ? literal.toLowerCase() : '') : literal;
  return { insts, groups, icase, anchoredStart: false, ...(required ? { required } : {}) };
}

/** The longest run of characters that every match of `ast` contains in a row ('' when none). */
function requiredLiteral(ast: Ast): string {
  let best = '';
  let run = '';
  const flush = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  const walk = (node: Ast): void => {
    if (node.t === 'char') run += node.c;
    else if (node.t === 'cat') for (const item of node.items) walk(item);
    else if (node.t === 'group') walk(node.body);
    // Anything else (alternatives, repetitions, classes, anchors) ends the run.
    else flush();
  };
  walk(ast);
  flush();
  return best;
}

/** A Sieve :matches pattern ('*', '?', '\' escapes) as a whole-string match; each wildcard is a group. */
export function compileWildcard(pattern: string, icase: boolean): Program {
  const items: Ast[] = [];
  let groups = 0;
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*')
      items.push({
        t: 'group',
        n: ++groups,
        body: { t: 'rep', body: { t: 'any' }, min: 0, max: Infinity, lazy: true },
      });
    else if (c === '?') items.push({ t: 'group', n: ++groups, body: { t: 'any' } });
    else if (c === '\\' && i + 1 < chars.length) items.push({ t: 'char', c: chars[++i]! });
    else items.push({ t: 'char', c });
  }
  const insts: Inst[] = [];
  const body: Ast = { t: 'cat', items };
  emit({ t: 'group', n: 0, body }, insts);
  insts.push({ op: 'eol' }, { op: 'match' });
  // the longest run of literal characters: a value without it is refused before the VM runs
  const literal = requiredLiteral(body);
  const required = icase ? (/^[\x00-\x7f]+$/.test(literal) ? literal.toLowerCase() : '') : literal;
  // Literals and stars only (no `?`, no surrogates): the segments between the stars, for matchStars.
  let stars: string[] | undefined;
  if (
    items.every((i) => i.t === 'char' || (i.t === 'group' && i.body.t === 'rep')) &&
    !SURROGATE.test(pattern)
  ) {
    stars = [''];
    for (const item of items)
      if (item.t === 'char') stars[stars.length - 1] += icase ? foldAZ(item.c) : item.c;
      else stars.push('');
  }
  return {
    insts,
    groups,
    icase,
    anchoredStart: true,
    ...(required ? { required } : {}),
    ...(stars ? { stars } : {}),
  };
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** A-Z to a-z and nothing else, as the VM compares characters under icase (`lower`). */
function foldAZ(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s.toLowerCase() : s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * A star pattern (Program.stars: literals S0 * S1 * ... * Sk) on `input`, with the VM's result: the
 * input starts with S0 and ends with Sk, each star takes as little as it can (the VM's lazy
 * repetition), so S1..Sk-1 are found at their earliest places in turn (when a later part cannot
 * match after the earliest place, it cannot after a later one either: the star before it takes what
 * is left). Captures: the whole input, then what each star took. Undefined when the input has
 * surrogates (the VM counts code points).
 */
function matchStars(
  stars: string[],
  icase: boolean,
  input: string,
): (string | undefined)[] | null | undefined {
  if (SURROGATE.test(input)) return undefined;
  const text = icase ? foldAZ(input) : input;
  const first = stars[0]!;
  if (stars.length === 1) return text === first ? [input] : null;
  if (!text.startsWith(first)) return null;
  const out: (string | undefined)[] = [input];
  let at = first.length;
  for (let j = 1; j < stars.length - 1; j++) {
    const segment = stars[j]!;
    const found = text.indexOf(segment, at);
    if (found < 0) return null;
    out.push(input.slice(at, found));
    at = found + segment.length;
  }
  const last = stars[stars.length - 1]!;
  const end = text.length - last.length;
  if (end < at || !text.endsWith(last)) return null;
  out.push(input.slice(at, end));
  return out;
}

function lower(c: string): string {
  return c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
}

function inClass(cp: number, ranges: [number, number][]): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

/** Case-insensitive searches for the required literals of icase programs, made once per program. */
const requiredSearches = new WeakMap<Program, RegExp>();

/**
 * Whether `input` contains the program's required literal (A-Z folded for icase programs). The
 * case-insensitive search is a RegExp with the `i` flag: it folds A-Z (the literal is ASCII) and
 * possibly more, so it can only let more inputs through to the VM, never fewer; unlike lower-casing
 * the input first, it copies nothing (a 4 KiB body cost a 4 KiB string per message).
 */
function containsRequired(prog: Program, required: string, input: string): boolean {
  if (!prog.icase) return input.includes(required);
  let search = requiredSearches.get(prog);
  if (!search) {
    search = new RegExp(required.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'i');
    requiredSearches.set(prog, search);
  }
  return search.test(input);
}

/**
 * Runs the program on `input`; returns the capture groups (index 0 the whole match) or null. Throws
 * BudgetExceeded when `deadline` (performance.now() value) passes.
 */
export function execProgram(prog: Program, input: string, deadline: number): (string | undefined)[] | null {
  if (prog.required && !containsRequired(prog, prog.required, input)) return null;
  if (prog.stars) {
    const matched = matchStars(prog.stars, prog.icase, input);
    if (matched !== undefined) return matched;
  }
  const text = Array.from(input);
  const { insts, icase } = prog;
  const nslots = (prog.groups + 1) * 2;
  type Thread = { pc: number; caps: number[] };
  let clist: Thread[] = [];
  let matched: number[] | null = null;
  const seen = new Int32Array(insts.length).fill(-1);
  let gen = 0;
  const add = (list: Thread[], pc: number, caps: number[], pos: number) => {
    // iterative with explicit stack to keep priority order
    const stack: { pc: number; caps: number[] }[] = [{ pc, caps }];
    while (stack.length) {
      const t = stack.pop()!;
      if (seen[t.pc] === gen) continue;
      seen[t.pc] = gen;
      const inst = insts[t.pc]!;
      switch (inst.op) {
        case 'jmp':
          stack.push({ pc: inst.x, caps: t.caps });
          break;
        case 'split':
          stack.push({ pc: inst.y, caps: t.caps });
          stack.push({ pc: inst.x, caps: t.caps });
          break;
        case 'save': {
          const caps2 = t.caps.slice();
          caps2[inst.n] = pos;
          stack.push({ pc: t.pc + 1, caps: caps2 });
          break;
        }
        case 'bol':
          if (pos === 0) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        case 'eol':
          if (pos === text.length) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        default:
          list.push(t);
      }
    }
  };
  const empty = new Array<number>(nslots).fill(-1);
  gen++;
  add(clist, 0, empty, 0);
  for (let pos = 0; ; pos++) {
    if ((pos & 255) === 0 && performance.now() > deadline) throw new BudgetExceeded();
    const nlist: Thread[] = [];
    gen++;
    const ch = text[pos];
    for (const t of clist) {
      const inst = insts[t.pc]!;
      if (inst.op === 'match') {
        matched = t.caps;
        break; // lower-priority threads are cut
      }
      if (ch === undefined) continue;
      let ok = false;
      if (inst.op === 'any') ok = true;
      else if (inst.op === 'char') ok = icase ? lower(inst.c) === lower(ch) : inst.c === ch;
      else if (inst.op === 'class') {
        const cp = ch.codePointAt(0)!;
        let hit = inClass(cp, inst.ranges);
        if (!hit && icase) {
          const l = lower(ch).codePointAt(0)!;
          const u = ch.toUpperCase().codePointAt(0)!;
          hit = ch.length === 1 && (inClass(l, inst.ranges) || inClass(u, inst.ranges));
        }
        ok = hit !== inst.neg;
      }
      if (ok) add(nlist, t.pc + 1, t.caps, pos + 1);
    }
    if (ch === undefined) break;
    if (!matched && !prog.anchoredStart) {
      // a new thread starting at pos + 1 (unanchored search), lowest priority
      add(nlist, 0, empty, pos + 1);
    }
    clist = nlist;
    if (clist.length === 0) break;
  }
  if (!matched) return null;
  const caps = matched;
  const out: (string | undefined)[] = [];
  for (let g = 0; g <= prog.groups; g++) {
    const s = caps[g * 2]!;
    const e = caps[g * 2 + 1]!;
    out.push(s >= 0 && e >= 0 ? text.slice(s, e).join('') : undefined);
  }
  return out;
}
