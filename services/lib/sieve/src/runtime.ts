/** The interpreter: state of one delivery's evaluation (message, actions, variables) and its helpers. */
import { LRUCache } from 'lru-cache';
import {
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_NOTIFICATIONS,
  type Node,
  type Registry,
  SieveRuntimeError,
  str,
} from './core.js';
import {
  flattenParts,
  type HeaderField,
  headerValue,
  type MailAddress,
  type MimePart,
  parseMime,
  splitMessage,
} from './message.js';
import { BudgetExceeded, compileRegex, compileWildcard, execProgram, type Program } from './regex.js';
import type { SieveAction, SieveEnvironment, SieveMessage } from './types.js';

export class StopSignal {}
export class ReturnSignal {}

/** An action with where it came from (for errors and the test harness). */
export type InternalAction = SieveAction & { line: number; column: number; script?: string; edited?: string };

const DEFAULTS = {
  timeBudgetMs: 100,
  maxActions: 32,
  maxRedirects: 4,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  maxNotifications: DEFAULT_MAX_NOTIFICATIONS,
  maxVariableBytes: 4000,
};

function latin1ToUtf8(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'latin1').toString('utf8');
}
export function utf8ToLatin1(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

const NO_FIELDS: readonly HeaderField[] = [];

/**
 * What a message's text parses into: its header fields and body, the fields by name, each field's
 * value as tests compare it and the address lists in them, each made on first use. A host may make
 * one per message and hand it to the runs of all its recipients (SieveMessage.parsed), which then
 * parse the message once: a run only reads it (editheader changes a run's own copy of the fields).
 */
export class ParsedMessage {
  private parts: { headers: HeaderField[]; body: string } | undefined;
  private byName: Map<string, HeaderField[]> | undefined;
  private mime: MimePart | undefined;
  /** Values of fields as tests compare them (headerValue), by field: a function of the field alone. */
  readonly values = new Map<HeaderField, string>();
  /** Address lists parsed from header values, by value (several address tests read the same From). */
  readonly addressLists = new Map<string, MailAddress[] | null>();
  constructor(readonly raw: Buffer) {}
  private split(): { headers: HeaderField[]; body: string } {
    this.parts ??= splitMessage(this.raw.toString('latin1'));
    return this.parts;
  }
  get headers(): readonly HeaderField[] {
    return this.split().headers;
  }
  get body(): string {
    return this.split().body;
  }
  /** The fields named `lname` (lowercase), in order. */
  fieldsNamed(lname: string): readonly HeaderField[] {
    this.byName ??= fieldsByName(this.headers);
    return this.byName.get(lname) ?? NO_FIELDS;
  }
  root(text: () => string): MimePart {
    this.mime ??= parseMime(text());
    return this.mime;
  }
}

function fieldsByName(headers: readonly HeaderField[]): Map<string, HeaderField[]> {
  const byName = new Map<string, HeaderField[]>();
  for (const h of headers) {
    const n = h.name.toLowerCase();
    const same = byName.get(n);
    if (same) same.push(h);
    else byName.set(n, [h]);
  }
  return byName;
}

/** The message as the script sees it; editheader changes it. Text is held as latin1 (one char per byte). */
export class MessageState {
  /** The message as received, parsed once (shared with other recipients' runs when the host gives it). */
  private readonly parsed: ParsedMessage;
  /** This run's own fields and body once editheader changed them; the parse is never changed. */
  private ownHeaders: HeaderField[] | undefined;
  private ownBody: string | undefined;
  edited = false;
  private mime: MimePart | undefined;
  /** The own fields by lowercased name, built on first use and again after an edit (changed). */
  private byName: Map<string, HeaderField[]> | undefined;
  private indexed: readonly HeaderField[] | undefined;
  constructor(readonly source: SieveMessage) {
    this.parsed =
      source.parsed && source.parsed.raw === source.raw ? source.parsed : new ParsedMessage(source.raw);
  }
  /** Address lists parsed from header values, by value. */
  get addressLists(): Map<string, MailAddress[] | null> {
    return this.parsed.addressLists;
  }
  /** The fields in order; to change them, assign a new list (editheader), then call changed(). */
  get headers(): readonly HeaderField[] {
    return this.ownHeaders ?? this.parsed.headers;
  }
  set headers(headers: HeaderField[]) {
    this.ownHeaders = headers;
  }
  get body(): string {
    return this.ownBody ?? this.parsed.body;
  }
  set body(body: string) {
    this.ownBody = body;
  }
  /** The fields named `lname` (lowercase), in order. */
  fieldsNamed(lname: string): readonly HeaderField[] {
    const headers = this.ownHeaders;
    if (!headers) return this.parsed.fieldsNamed(lname);
    if (!this.byName || this.indexed !== headers) {
      this.byName = fieldsByName(headers);
      this.indexed = headers;
    }
    return this.byName.get(lname) ?? NO_FIELDS;
  }
  /** A field's value as Sieve compares it (unfolded, encoded words decoded, UTF-8). */
  valueOf(field: HeaderField): string {
    const values = this.parsed.values;
    let v = values.get(field);
    if (v === undefined) {
      v = headerValue(latin1ToUtf8(field.raw));
      values.set(field, v);
    }
    return v;
  }
  get size(): number {
    return this.edited
      ? Buffer.byteLength(this.text(), 'latin1')
      : (this.source.size ?? this.source.raw.length);
  }
  text(): string {
    return `${this.headers.map((h) => `${h.name}:${h.raw}\r\n`).join('')}\r\n${this.body}`;
  }
  root(): MimePart {
    if (!this.edited) return this.parsed.root(() => this.text());
    if (!this.mime) this.mime = parseMime(this.text());
    return this.mime;
  }
  changed(): void {
    this.ownHeaders ??= [...this.parsed.headers];
    this.edited = true;
    this.mime = undefined;
    this.byName = undefined;
  }
}

/** State shared by every script of one run (a sequence of global and personal scripts). */
export class RunState {
  actions: InternalAction[] = [];
  /**
   * Actions before this index belong to scripts that already finished in a sequence (global before,
   * personal, global after): they are final, as if executed, so later scripts do not conflict with them
   * (a duplicate of one is dropped, a reject after a stored copy is allowed).
   */
  committed = 0;
  keepCancelled = false;
  /** The script now running took an explicit keep (a sequence goes on after it, as with implicit keep). */
  explicitKeep = false;
  redirects = 0;
  duplicates: { id: string; seconds: number }[] = [];
  /** The message under evaluation (replaceable by a test harness). */
  message: MessageState;
  /** performance.now() value after which the run fails; moved on by time spent waiting for the host. */
  deadline: number;
  /** Opaque slot for an embedding host (the conformance harness keeps its state here). */
  host: unknown;
  readonly limits: typeof DEFAULTS;
  /** Flags of the implicit keep (imap4flags internal variable of the last script). */
  implicitFlags: string[] = [];
  /** Errors that did not stop the run (say a regular expression built at run time that is invalid). */
  notices: { line: number; column: number; message: string }[] = [];
  /** Scripts already included in this run (include :once, RFC 6609 section 3.2). */
  readonly included = new Set<string>();
  constructor(
    message: SieveMessage,
    readonly env: SieveEnvironment,
  ) {
    this.message = new MessageState(message);
    this.limits = {
      timeBudgetMs: env.timeBudgetMs ?? DEFAULTS.timeBudgetMs,
      maxActions: env.maxActions ?? DEFAULTS.maxActions,
      maxRedirects: env.maxRedirects ?? DEFAULTS.maxRedirects,
      maxHeaderBytes: env.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
      maxNotifications: env.maxNotifications ?? DEFAULTS.maxNotifications,
      maxVariableBytes: env.maxVariableBytes ?? DEFAULTS.maxVariableBytes,
    };
    this.deadline = performance.now() + this.limits.timeBudgetMs;
  }
}

const programCache = new LRUCache<string, Program>({ max: 2000 });
function program(kind: 'r' | 'w', pattern: string, icase: boolean): Program {
  const key = `${kind}${icase ? 'i' : 'c'}${pattern}`;
  let p = programCache.get(key);
  if (!p) {
    p = kind === 'r' ? compileRegex(pattern, icase) : compileWildcard(pattern, icase);
    programCache.set(key, p);
  }
  return p;
}

export function asciiLower(s: string): string {
  // toLowerCase is the same for pure ASCII (most header values), and much cheaper
  for (let i = 0; i < s.length; i++)
    if (s.charCodeAt(i) > 0x7f) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  return s.toLowerCase();
}

function numericValue(s: string): number {
  const m = /^[0-9]+/.exec(s);
  return m ? Number(m[0]) : Infinity;
}

/** i;unicode-casemap (RFC 5051): case folded and compatibility-decomposed. */
export function unicodeFold(s: string): string {
  return s.toUpperCase().toLowerCase().normalize('NFKD');
}

export function compareWith(comparator: string, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') {
    const x = numericValue(a);
    const y = numericValue(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (comparator === 'i;ascii-casemap') {
    a = asciiLower(a);
    b = asciiLower(b);
  } else if (comparator === 'i;unicode-casemap') {
    a = unicodeFold(a);
    b = unicodeFold(b);
  }
  return a === b ? 0 : a < b ? -1 : 1;
}

function relational(op: string, c: number): boolean {
  switch (op) {
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
    default:
      return false;
  }
}

/** Whether an action of `kind` is among actions[from, to). */
function kindIn(
  actions: readonly InternalAction[],
  from: number,
  to: number,
  kind: SieveAction['kind'],
): boolean {
  for (let i = from; i < to; i++) if (actions[i]!.kind === kind) return true;
  return false;
}
const stores = (a: SieveAction): boolean => a.kind === 'keep' || a.kind === 'fileinto';
const mailboxOf = (a: SieveAction): string | undefined =>
  a.kind === 'keep' ? 'INBOX' : a.kind === 'fileinto' ? normalizeMailbox(a.mailbox) : undefined;

/** Keys case-folded (asciiLower) by the script's constant key list they came from. */
const foldedConstantKeys = new WeakMap<readonly string[], string[]>();
/** `keys` (rawKeys with variables expanded) case-folded; remembered when the expansion changed nothing. */
function foldedKeysOf(rawKeys: readonly string[], keys: readonly string[]): string[] {
  const constant = keys === rawKeys || keys.every((k, i) => k === rawKeys[i]);
  if (!constant) return keys.map(asciiLower);
  let folded = foldedConstantKeys.get(rawKeys);
  if (!folded) {
    folded = rawKeys.map(asciiLower);
    foldedConstantKeys.set(rawKeys, folded);
  }
  return folded;
}

/** The evaluation of one script. */
export class Runtime {
  vars = new Map<string, string>();
  matchVars: string[] = [];
  flags = '';
  /** Current MIME part inside foreverypart (mime extension). */
  currentPart: MimePart | null = null;
  partStack: MimePart[] = [];
  /** How many includes deep this script runs (bounded by the include extension). */
  depth = 0;
  constructor(
    readonly state: RunState,
    readonly registry: Registry,
    readonly requires: Set<string>,
    readonly includes: Record<string, unknown>,
    readonly globals: Map<string, string>,
    readonly scriptName: string,
    readonly globalNames: Set<string> = new Set(),
  ) {}

  get env(): SieveEnvironment {
    return this.state.env;
  }
  get message(): MessageState {
    return this.state.message;
  }

  error(node: { line: number; column: number }, message: string): never {
    throw new SieveRuntimeError(node.line, node.column, message);
  }

  /** Awaits a host callback (storage lookup); the wait does not count against the time budget. */
  async host<T>(call: () => T | Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.state.deadline += performance.now() - started;
    }
  }

  checkBudget(node: Node): void {
    if (performance.now() > this.state.deadline)
      this.error(node, `execution exceeded the cpu time budget (${this.state.limits.timeBudgetMs} ms)`);
  }

  // ---- variables ---------------------------------------------------------------------------------------

  getVar(name: string): string {
    const n = name.toLowerCase();
    if (this.globalNames.has(n) || n.startsWith('global.'))
      return this.globals.get(n.replace(/^global\./, '')) ?? '';
    return this.vars.get(n) ?? '';
  }
  setVar(name: string, value: string): void {
    const n = name.toLowerCase();
    const v = truncateUtf8(value, this.state.limits.maxVariableBytes);
    if (this.globalNames.has(n) || n.startsWith('global.')) this.globals.set(n.replace(/^global\./, ''), v);
    else this.vars.set(n, v);
  }

  /** Expands ${...} variable references when the variables extension is active. */
  expand(s: string): string {
    if (!this.requires.has('variables') || !s.includes('${')) return s;
    return s.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+)\}/g,
      (_m, name: string) => {
        if (/^[0-9]+$/.test(name)) return this.matchVars[Number(name)] ?? '';
        if (name.includes('.') && !name.toLowerCase().startsWith('global.')) return this.namespaced(name);
        return this.getVar(name);
      },
    );
  }
  private namespaced(name: string): string {
    const lower = name.toLowerCase();
    if (lower.startsWith('env.') && this.requires.has('environment'))
      return this.environmentItem(lower.slice(4)) ?? '';
    return '';
  }
  expandList(l: string[]): string[] {
    return l.map((s) => this.expand(s));
  }
  /**
   * expandList for a caller that only reads the list: the script's own array when expanding changes
   * none of it (most lists, every one without `variables`), else a new one.
   */
  expandedView(l: readonly string[]): readonly string[] {
    if (!this.requires.has('variables')) return l;
    let out: string[] | undefined;
    for (let i = 0; i < l.length; i++) {
      const s = l[i]!;
      const e = this.expand(s);
      if (out) out.push(e);
      else if (e !== s) {
        out = l.slice(0, i);
        out.push(e);
      }
    }
    return out ?? l;
  }
  /** elist for a caller that only reads the list (expandedView). */
  elistView(v: unknown): readonly string[] {
    return typeof v === 'string'
      ? [this.expand(v)]
      : Array.isArray(v)
        ? this.expandedView(v as string[])
        : [];
  }
  estr(v: unknown): string {
    return this.expand(typeof v === 'string' ? v : Array.isArray(v) ? String(v[0] ?? '') : '');
  }
  elist(v: unknown): string[] {
    return typeof v === 'string' ? [this.expand(v)] : Array.isArray(v) ? this.expandList(v as string[]) : [];
  }

  environmentItem(name: string): string | undefined {
    const env = this.env;
    const extra = env.environment ?? {};
    if (Object.hasOwn(extra, name)) return extra[name];
    switch (name) {
      case 'domain':
        return env.domain;
      case 'host':
        return env.host ?? env.domain;
      case 'location':
        return 'MDA';
      case 'name':
        return 'Hermod Sieve';
      case 'phase':
        return 'during';
      case 'version':
        return '1.0';
      case 'remote-host':
      case 'remote-ip':
        return undefined;
      default:
        return undefined;
    }
  }

  // ---- matching ----------------------------------------------------------------------------------------

  comparator(node: Node): string {
    return (
      str(node.tags.comparator) ?? this.registry.tests.get(node.name)?.defaultComparator ?? 'i;ascii-casemap'
    );
  }

  /** Applies the node's match type and comparator to values and keys (keys expanded here). */
  match(node: Node, rawValues: string[], rawKeys: readonly string[], setsMatchValues = true): boolean {
    const comparator = this.comparator(node);
    const unicode = comparator === 'i;unicode-casemap' && !node.tags.count && !node.tags.value;
    // (the script's own list when there is nothing to expand: match reads keys, never changes them)
    const expanded = this.expandedView(rawKeys);
    const keys = unicode ? expanded.map(unicodeFold) : expanded;
    const values = unicode ? rawValues.map(unicodeFold) : rawValues;
    const icase = comparator === 'i;ascii-casemap';
    const tags = node.tags;
    if (tags.count !== undefined) {
      const op = asciiLower(String(tags.count));
      const n = String(values.length);
      return keys.some((k) => relational(op, compareWith(comparator, n, k)));
    }
    if (tags.value !== undefined) {
      const op = asciiLower(String(tags.value));
      return values.some((v) => keys.some((k) => relational(op, compareWith(comparator, v, k))));
    }
    const captures = setsMatchValues && this.requires.has('variables');
    // :contains and :is under i;ascii-casemap compare case-folded strings: keys folded once per test
    // (once per script for constant keys), each value once.
    const plainIs = !tags.matches && !tags.regex && !tags.contains;
    const folded = icase && (tags.contains || plainIs);
    const foldedKeys = folded ? foldedKeysOf(rawKeys, keys) : keys;
    for (const v of values) {
      const hay = folded ? asciiLower(v) : v;
      for (let ki = 0; ki < keys.length; ki++) {
        const k = keys[ki]!;
        if (folded) {
          if (tags.contains ? hay.includes(foldedKeys[ki]!) : hay === foldedKeys[ki]) return true;
        } else if (tags.matches) {
          if (!k.includes('*') && !k.includes('?') && !k.includes('\\')) {
            if (compareWith(comparator, v, k) === 0) {
              if (captures) this.matchVars = [v];
              return true;
            }
            continue;
          }
          if (comparator === 'i;ascii-numeric') continue;
          const m = this.exec(node, program('w', k, icase), v);
          if (m) {
            if (captures) this.matchVars = m.map((x) => x ?? '');
            return true;
          }
        } else if (tags.regex) {
          let prog: Program;
          try {
            prog = program('r', k, icase);
          } catch (e) {
            // an invalid expression built at run time matches nothing; the run goes on
            this.state.notices.push({
              line: node.line,
              column: node.column,
              message: `invalid regular expression '${k}' for regex match: ${(e as Error).message}`,
            });
            continue;
          }
          const m = this.exec(node, prog, v);
          if (m) {
            if (captures) this.matchVars = m.map((x) => x ?? '');
            return true;
          }
        } else if (tags.contains) {
          if (hay.includes(k)) return true;
        } else if (compareWith(comparator, v, k) === 0) return true;
      }
    }
    return false;
  }

  private exec(node: Node, prog: Program, input: string): (string | undefined)[] | null {
    try {
      return execProgram(prog, input, this.state.deadline);
    } catch (e) {
      if (e instanceof BudgetExceeded)
        this.error(
          node,
          `execution exceeded the cpu time budget (${this.state.limits.timeBudgetMs} ms) while matching`,
        );
      throw e;
    }
  }

  // ---- message access ----------------------------------------------------------------------------------

  /** Header fields the test looks at: the message, the current MIME part, or with :anychild all parts. */
  headerScopes(node: Node): Array<readonly HeaderField[]> {
    if (node.tags.mime !== undefined) {
      const base = this.currentPart ?? this.message.root();
      if (node.tags.anychild !== undefined) return flattenParts(base).map((p) => p.headers);
      return [base.headers];
    }
    if (this.currentPart && node.tags.mime !== undefined) return [this.currentPart.headers];
    return [this.message.headers];
  }

  /** Decoded values of the named fields, honouring :index/:last. */
  headerValues(node: Node, names: readonly string[], scope?: readonly HeaderField[]): string[] {
    const out: string[] = [];
    const index = typeof node.tags.index === 'number' ? node.tags.index : undefined;
    const last = node.tags.last !== undefined;
    if (!scope && node.tags.mime === undefined) {
      // the message's own fields (headerScopes): by the name index, values decoded once per run
      const msg = this.message;
      for (const name of names) {
        const fields = msg.fieldsNamed(name.toLowerCase());
        if (index !== undefined) {
          const f = last ? fields[fields.length - index] : fields[index - 1];
          if (f) out.push(msg.valueOf(f));
        } else for (const f of fields) out.push(msg.valueOf(f));
      }
      return out;
    }
    const scopes = scope ? [scope] : this.headerScopes(node);
    for (const headers of scopes) {
      for (const name of names) {
        const lname = name.toLowerCase();
        const fields = headers.filter((h) => h.name.toLowerCase() === lname);
        if (index !== undefined) {
          const f = last ? fields[fields.length - index] : fields[index - 1];
          if (f) out.push(headerValue(latin1ToUtf8(f.raw)));
        } else for (const f of fields) out.push(headerValue(latin1ToUtf8(f.raw)));
      }
    }
    return out;
  }

  // ---- actions -----------------------------------------------------------------------------------------

  /** Records an action; `action` must be a fresh object of the caller's (it is stored, not copied). */
  addAction(node: Node, action: SieveAction): void {
    const st = this.state;
    const acts = st.actions;
    const committed = st.committed;
    if (action.kind === 'reject') {
      if (kindIn(acts, committed, acts.length, 'reject'))
        this.error(node, 'duplicate reject/ereject action not allowed');
      if (kindIn(acts, 0, committed, 'reject')) return; // a finished script rejected it already
      const other = acts.find(
        (a, i) =>
          i >= committed && (stores(a) || (a.kind === 'redirect' && !a.copy) || a.kind === 'vacation'),
      );
      if (other) this.error(node, `reject action conflicts with earlier ${other.kind} action`);
      if (kindIn(acts, 0, committed, 'vacation')) {
        // a response went to the sender already: the reject only ends the delivery (Pigeonhole)
        action = { kind: 'discard' };
      }
    } else if (stores(action) || action.kind === 'redirect') {
      if (kindIn(acts, committed, acts.length, 'reject'))
        this.error(node, `${action.kind} action conflicts with earlier reject action`);
    }
    if (action.kind === 'vacation') {
      if (kindIn(acts, committed, acts.length, 'vacation'))
        this.error(node, 'duplicate vacation action not allowed');
      if (kindIn(acts, 0, committed, 'vacation')) return;
      if (kindIn(acts, committed, acts.length, 'reject'))
        this.error(node, 'vacation action conflicts with earlier reject action');
    }
    if (action.kind === 'keep') st.explicitKeep = true;
    if (stores(action)) {
      const mb = mailboxOf(action);
      let existing = -1;
      for (let i = 0; i < acts.length; i++)
        if (stores(acts[i]!) && mailboxOf(acts[i]!) === mb) {
          existing = i;
          break;
        }
      if (existing >= 0) {
        // duplicate store into one mailbox: one delivery, the later flags win; keep takes the place
        // of a `fileinto "INBOX"` (Pigeonhole: a keep has precedence over an equal store)
        const prev = acts[existing]!;
        const flags = (action as { flags: string[] }).flags;
        if (prev.kind === 'keep' || prev.kind === 'fileinto') prev.flags = flags;
        if (prev.kind === 'fileinto' && action.kind === 'fileinto') prev.copy = prev.copy && action.copy;
        if (prev.kind === 'fileinto' && action.kind === 'keep') {
          const { line, column, script, edited } = prev;
          acts[existing] = {
            kind: 'keep',
            flags,
            line,
            column,
            ...(script !== undefined ? { script } : {}),
            ...(edited !== undefined ? { edited } : {}),
          };
        }
        if (!(action.kind === 'fileinto' && action.copy)) st.keepCancelled = true;
        return;
      }
    }
    if (action.kind === 'redirect') {
      const addr = action.address.toLowerCase();
      const dup = acts.find((a) => a.kind === 'redirect' && a.address.toLowerCase() === addr);
      if (dup) {
        if (!action.copy) {
          st.keepCancelled = true;
          if (dup.kind === 'redirect') dup.copy = false;
        }
        return;
      }
      if (st.redirects >= st.limits.maxRedirects)
        this.error(node, `number of redirect actions exceeds policy limit (${st.limits.maxRedirects})`);
      st.redirects++;
    }
    if (action.kind === 'notify') {
      const same = (a: SieveAction) =>
        JSON.stringify({ ...a, line: 0, column: 0, script: '' }) ===
        JSON.stringify({ ...action, line: 0, column: 0, script: '' });
      if (acts.some((a) => a.kind === 'notify' && same(a))) return;
      const max = st.limits.maxNotifications;
      if (max === 0) this.error(node, 'local policy prohibits the use of a notify action');
      if (acts.filter((a) => a.kind === 'notify').length >= max)
        this.error(node, `number of notify actions exceeds policy limit (${max})`);
    }
    if (acts.length >= st.limits.maxActions)
      this.error(node, `total number of actions exceeds policy limit (${st.limits.maxActions})`);
    if (action.kind === 'keep' || action.kind === 'discard' || action.kind === 'reject')
      st.keepCancelled = true;
    if ((action.kind === 'fileinto' || action.kind === 'redirect') && !action.copy) st.keepCancelled = true;
    const snapshot =
      this.message.edited &&
      (action.kind === 'keep' || action.kind === 'fileinto' || action.kind === 'redirect');
    // The action is the command's own fresh object: where it came from is added to it, not copied
    // with it (`{ ...action, line }` takes V8's slow path, some microseconds per action).
    const internal = action as InternalAction;
    internal.line = node.line;
    internal.column = node.column;
    internal.script = this.scriptName;
    if (snapshot) internal.edited = this.message.text();
    acts.push(internal);
  }

  // ---- execution ---------------------------------------------------------------------------------------

  /**
   * Runs a block from node `from` on; synchronously while its tests and commands do not wait for the
   * host, and as a promise from the first that does.
   */
  runBlock(block: Node[], from = 0): Promise<void> | void {
    for (let i = from; i < block.length; ) {
      const node = block[i]!;
      this.checkBudget(node);
      if (node.name === 'if') {
        // the if / elsif / else chain: up to the first node that is neither, or an else
        let end = i + 1;
        while (end < block.length && (block[end]!.name === 'elsif' || block[end]!.name === 'else'))
          if (block[end++]!.name === 'else') break;
        const ran = this.runChain(block, i, end);
        if (ran) return ran.then(() => this.runBlock(block, end));
        i = end;
        continue;
      }
      const ran = this.runCommand(node);
      if (ran) {
        const next = i + 1;
        return ran.then(() => this.runBlock(block, next));
      }
      i++;
    }
  }

  /** The branch of an if chain (block[k..end)) whose test holds first, run. */
  private runChain(block: Node[], k: number, end: number): Promise<void> | void {
    for (; k < end; k++) {
      const n = block[k]!;
      const ok = n.name === 'else' || this.evalTest(n.tests[0]!);
      if (typeof ok !== 'boolean') {
        const next = k + 1;
        return ok.then((v) => (v ? this.runBlock(n.block ?? []) : this.runChain(block, next, end)));
      }
      if (ok) return this.runBlock(n.block ?? []);
    }
  }

  /** Runs a command; a promise only when the command waits for the host (most do not). */
  runCommand(node: Node): Promise<void> | void {
    const def = this.registry.commands.get(node.name);
    if (!def?.run) this.error(node, `unsupported command '${node.name}' at runtime`);
    return def.run(node, this);
  }

  /** Evaluates a test; a promise only when the test waits for the host or a nested test does. */
  evalTest(node: Node): Promise<boolean> | boolean {
    const def = this.registry.tests.get(node.name);
    if (!def?.test) this.error(node, `unsupported test '${node.name}' at runtime`);
    return def.test(node, this);
  }
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (s.length * 3 <= max || Buffer.byteLength(s, 'utf8') <= max) return s;
  const b = Buffer.from(s, 'utf8');
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

export function normalizeMailbox(name: string): string {
  return /^inbox$/i.test(name) ? 'INBOX' : name;
}
