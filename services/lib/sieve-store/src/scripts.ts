import type { Pool } from '@hermod/db';
import { type CompileResult, compileSieve, type SieveError, serializeCompiled } from '@hermod/sieve';
import { SieveScriptError } from './errors.js';
import {
  activateScript,
  deleteGlobalScript,
  deleteScript,
  type GlobalPhase,
  type GlobalScript,
  getScript,
  globalScriptsOwner,
  listGlobalScripts,
  listScripts,
  renameScript,
  type ScriptSummary,
  type StoredScript,
  saveGlobalScript,
  saveScript,
  scriptUsage,
} from './script-store.js';

/** Limits on what users may store; enforced here, for ManageSieve and the CLI alike. */
export interface SieveLimits {
  /** Largest script source, in bytes. */
  maxScriptBytes: number;
  /** Most scripts one account may hold. */
  maxScripts: number;
  /** Deepest nesting of blocks and tests. */
  maxNesting: number;
}

/** The limits the services use unless configured otherwise (imap's SIEVE_* settings document them). */
export const defaultSieveLimits: SieveLimits = { maxScriptBytes: 65_536, maxScripts: 16, maxNesting: 32 };

/** The account a script belongs to: its id and domain (whose global scripts `include :global` sees). */
export interface ScriptOwner {
  id: number;
  domain: string;
}

const MAX_NAME_LENGTH = 128;

/**
 * RFC 5804 1.6: a script name is non-empty UTF-8 without control characters (C0, DEL, C1) or the line
 * and paragraph separators; ours are also bounded in length.
 */
export function checkScriptName(name: string): void {
  if (
    name === '' ||
    [...name].length > MAX_NAME_LENGTH ||
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)
  )
    throw new SieveScriptError('bad-name', `a script name is 1 to ${MAX_NAME_LENGTH} printable characters`);
}

/**
 * Users' and domains' Sieve scripts: compiled when uploaded (errors name line and column) and stored
 * with their compiled form, under the configured limits. The one place that decides whether a script
 * may be stored; ManageSieve and the CLI are both thin layers over it.
 */
export class SieveScripts {
  constructor(
    private readonly pool: Pool,
    readonly limits: SieveLimits,
  ) {}

  /** Compiles source as owner's script, resolving includes against the stored scripts. */
  private async compile(owner: ScriptOwner | undefined, domain: string, source: string) {
    if (Buffer.byteLength(source) > this.limits.maxScriptBytes)
      throw new SieveScriptError('quota-max-size', `a script is at most ${this.limits.maxScriptBytes} bytes`);
    const [personal, global] = await Promise.all([
      owner ? listScripts(this.pool, owner.id) : Promise.resolve([] as StoredScript[]),
      listGlobalScripts(this.pool, domain),
    ]);
    const result: CompileResult = compileSieve(source, {
      maxScriptBytes: this.limits.maxScriptBytes,
      maxNesting: this.limits.maxNesting,
      includeResolver: (name, location) =>
        (location === 'personal' ? personal : global).find((s) => s.name === name)?.source,
    });
    if (!result.ok) throw new SieveScriptError('invalid', formatErrors(result.errors), result.errors);
    return { compiled: serializeCompiled(result.script), warnings: result.warnings };
  }

  /** CHECKSCRIPT: compiles without storing; returns the warnings. */
  async check(owner: ScriptOwner, source: string): Promise<SieveError[]> {
    return (await this.compile(owner, owner.domain, source)).warnings;
  }

  /** PUTSCRIPT: compiles and stores (replacing a script of the same name); returns the warnings. */
  async put(owner: ScriptOwner, name: string, source: string): Promise<SieveError[]> {
    checkScriptName(name);
    const { compiled, warnings } = await this.compile(owner, owner.domain, source);
    await saveScript(this.pool, owner.id, name, source, compiled, this.limits.maxScripts);
    return warnings;
  }

  async list(owner: ScriptOwner): Promise<ScriptSummary[]> {
    return (await listScripts(this.pool, owner.id)).map(({ name, active }) => ({ name, active }));
  }

  async get(owner: ScriptOwner, name: string): Promise<StoredScript> {
    const script = await getScript(this.pool, owner.id, name);
    if (!script) throw new SieveScriptError('nonexistent', `there is no script named "${name}"`);
    return script;
  }

  /** SETACTIVE: name becomes the active script; '' deactivates. */
  activate(owner: ScriptOwner, name: string): Promise<void> {
    return activateScript(this.pool, owner.id, name);
  }

  delete(owner: ScriptOwner, name: string): Promise<void> {
    return deleteScript(this.pool, owner.id, name);
  }

  async rename(owner: ScriptOwner, from: string, to: string): Promise<void> {
    checkScriptName(to);
    await renameScript(this.pool, owner.id, from, to);
  }

  /** HAVESPACE: throws the quota error a PUTSCRIPT of this name and size would get. */
  async haveSpace(owner: ScriptOwner, name: string, size: number): Promise<void> {
    checkScriptName(name);
    if (size > this.limits.maxScriptBytes)
      throw new SieveScriptError('quota-max-size', `a script is at most ${this.limits.maxScriptBytes} bytes`);
    const usage = await scriptUsage(this.pool, owner.id, name);
    if (!usage.exists && usage.count >= this.limits.maxScripts)
      throw new SieveScriptError(
        'quota-max-scripts',
        `at most ${this.limits.maxScripts} scripts per account`,
      );
  }

  listGlobal(domain: string): Promise<GlobalScript[]> {
    return listGlobalScripts(this.pool, domain);
  }

  /** The MailDomain (live config source) that sets the domain's global scripts; undefined: the CLI does. */
  globalOwner(domain: string): Promise<string | undefined> {
    return globalScriptsOwner(this.pool, domain);
  }

  /** Stores a domain's global script (before/after the users' scripts, or a library for include). */
  async putGlobal(domain: string, name: string, phase: GlobalPhase, source: string): Promise<SieveError[]> {
    checkScriptName(name);
    const { compiled, warnings } = await this.compile(undefined, domain, source);
    await saveGlobalScript(this.pool, { domain, name, phase, source, compiled });
    return warnings;
  }

  deleteGlobal(domain: string, name: string): Promise<void> {
    return deleteGlobalScript(this.pool, domain, name);
  }
}

/** A domain's global scripts as a MailDomain sets them (spec.sieve, carried by the live domain config). */
export interface DomainScriptSet {
  before?: string | undefined;
  after?: string | undefined;
  library: ReadonlyArray<{ name: string; source: string }>;
}

/** Names a MailDomain's before and after scripts are stored under (library names may not take them). */
export const domainScriptNames = { before: 'maildomain-before', after: 'maildomain-after' } as const;

/**
 * Compiles a MailDomain's global scripts as they will be stored: `include :global` reaches the
 * set's library scripts. Throws SieveScriptError ('bad-name', 'invalid': which script, line and
 * column); the operator calls it to refuse a bad spec, mda to store a good one.
 */
export function compileDomainScripts(
  domain: string,
  set: DomainScriptSet,
  limits: SieveLimits = defaultSieveLimits,
): GlobalScript[] {
  const reserved: string[] = Object.values(domainScriptNames);
  const names = new Set<string>();
  for (const { name } of set.library) {
    checkScriptName(name);
    if (reserved.includes(name) || names.has(name))
      throw new SieveScriptError('bad-name', `library script name "${name}" is used twice or reserved`);
    names.add(name);
  }
  const entries: Array<{ name: string; phase: GlobalPhase; source: string }> = [
    ...set.library.map((l) => ({ name: l.name, phase: 'library' as const, source: l.source })),
    ...(set.before !== undefined
      ? [{ name: domainScriptNames.before, phase: 'before' as const, source: set.before }]
      : []),
    ...(set.after !== undefined
      ? [{ name: domainScriptNames.after, phase: 'after' as const, source: set.after }]
      : []),
  ];
  return entries.map((e) => {
    const label = e.phase === 'library' ? `library script ${e.name}` : `${e.phase} script`;
    if (Buffer.byteLength(e.source) > limits.maxScriptBytes)
      throw new SieveScriptError('quota-max-size', `${label}: at most ${limits.maxScriptBytes} bytes`);
    const result = compileSieve(e.source, {
      maxScriptBytes: limits.maxScriptBytes,
      maxNesting: limits.maxNesting,
      includeResolver: (name, location) =>
        location === 'global' ? set.library.find((l) => l.name === name)?.source : undefined,
    });
    if (!result.ok)
      throw new SieveScriptError('invalid', `${label}: ${formatErrors(result.errors)}`, result.errors);
    return {
      domain,
      name: e.name,
      phase: e.phase,
      source: e.source,
      compiled: serializeCompiled(result.script),
    };
  });
}

/** Compile errors as text, one per line: `line 3, column 7: unknown test "foo"`. */
export function formatErrors(errors: readonly SieveError[]): string {
  return errors.map((e) => `line ${e.line}, column ${e.column}: ${e.message}`).join('\n');
}
