/** The engine's internal model: validated nodes, command definitions and the registry they live in. */
import type { Runtime } from './runtime.js';
import type { SieveError } from './types.js';

export type Value = string | string[] | number;

/** A validated command or test, JSON-serializable (it is the stored compiled form). */
export interface Node {
  name: string;
  line: number;
  column: number;
  /** Tags by name (without ':'): `true`, or the tag's argument. */
  tags: Record<string, true | Value>;
  pos: Value[];
  tests: Node[];
  block: Node[] | null;
  /** Validator-computed data (constant, JSON-able). */
  data?: Record<string, unknown>;
}

export type ArgKind = 'string' | 'stringlist' | 'number';

export interface TagDef {
  /** Extension that must be required for the tag. */
  ext?: string;
  /** Tags of one group exclude each other (match type, comparator, address part, ...). */
  group?: string;
  arg?: ArgKind;
}

/** editheader: the largest value addheader adds, in bytes (Pigeonhole's default too). */
export const DEFAULT_MAX_HEADER_BYTES = 2048;
/** enotify: the most notify actions of one run (Pigeonhole's default too). */
export const DEFAULT_MAX_NOTIFICATIONS = 10;

export interface ValidateContext {
  /** Extensions required in the current scope. */
  has(ext: string): boolean;
  error(node: { line: number; column: number }, message: string): void;
  warning(node: { line: number; column: number }, message: string): void;
  /** Top-level and block position information. */
  readonly options: {
    maxNesting: number;
    /** Largest value editheader's addheader may add (checked at compile time for constant values). */
    maxHeaderBytes: number;
    /** Most notify actions of a run; 0: notify is refused at compile time. */
    maxNotifications: number;
  };
  /** Compiles an included script (include extension); returns its key or undefined after reporting. */
  include?(
    node: Node,
    name: string,
    location: 'personal' | 'global',
    optional: boolean,
    once: boolean,
  ): string | undefined;
  /** Variables extension: names declared global in this script. */
  globals: Set<string>;
  /** Variables this script set as local ones so far (lower-case): `global` may not claim them after. */
  locals?: Set<string>;
  /** Whether the script is an included one. */
  readonly included: boolean;
  /** Loop nesting (foreverypart). */
  loopDepth: number;
}

export interface CommandDef {
  name: string;
  kind: 'command' | 'test';
  /** Extension that must be required (any of several when an array). */
  ext?: string | string[];
  tags?: Record<string, TagDef>;
  pos: ArgKind[];
  /** What each positional argument is, for error messages ('header names', 'key list'). */
  posNames?: string[];
  /** How many trailing positional arguments may be left out. */
  optional?: number;
  /** The comparator without :comparator, when not RFC 5228 2.7.3's i;ascii-casemap. */
  defaultComparator?: string;
  /** Commands: 'required' when the command takes a block. */
  block?: 'required' | 'none';
  /** Commands/tests that take tests ('one' for not/if, 'list' for allof/anyof). */
  tests?: 'none' | 'one' | 'list';
  /** Extra compile-time checks; may fill node.data. */
  validate?(node: Node, ctx: ValidateContext): void;
  run?(node: Node, rt: Runtime): Promise<void> | void;
  test?(node: Node, rt: Runtime): Promise<boolean> | boolean;
}

/** A registry of definitions; the production engine uses `defaultRegistry`, tests may extend a copy. */
export class Registry {
  readonly commands = new Map<string, CommandDef>();
  readonly tests = new Map<string, CommandDef>();
  /** Extensions this registry knows (whether or not they are offered). */
  readonly known = new Set<string>();
  /** Shared tags contributed by extensions to existing commands (e.g. :copy on redirect). */
  add(def: CommandDef): void {
    (def.kind === 'command' ? this.commands : this.tests).set(def.name, def);
  }
  extend(name: string, kind: 'command' | 'test', tags: Record<string, TagDef>): void {
    const def = (kind === 'command' ? this.commands : this.tests).get(name);
    if (!def) throw new Error(`no ${kind} ${name}`);
    def.tags = { ...def.tags, ...tags };
  }
  clone(): Registry {
    const r = new Registry();
    for (const d of this.commands.values()) r.add({ ...d, tags: { ...d.tags } });
    for (const d of this.tests.values()) r.add({ ...d, tags: { ...d.tags } });
    for (const k of this.known) r.known.add(k);
    return r;
  }
}

export class SieveRuntimeError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

export function toError(e: SieveRuntimeError): SieveError {
  return { line: e.line, column: e.column, message: e.message };
}

/** Match-type, comparator and relational tags shared by tests. */
export const COMPARATOR_TAGS: Record<string, TagDef> = {
  comparator: { group: 'comparator', arg: 'string' },
  is: { group: 'match' },
  contains: { group: 'match' },
  matches: { group: 'match' },
  regex: { group: 'match', ext: 'regex' },
  count: { group: 'match', ext: 'relational', arg: 'string' },
  value: { group: 'match', ext: 'relational', arg: 'string' },
};

export const ADDRESS_PART_TAGS: Record<string, TagDef> = {
  all: { group: 'addresspart' },
  localpart: { group: 'addresspart' },
  domain: { group: 'addresspart' },
  user: { group: 'addresspart', ext: 'subaddress' },
  detail: { group: 'addresspart', ext: 'subaddress' },
};

export function str(v: true | Value | undefined): string | undefined {
  return typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
}
export function list(v: true | Value | undefined): string[] {
  return typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
}
