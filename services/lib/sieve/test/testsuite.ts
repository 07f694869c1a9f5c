/**
 * A test-only implementation of Pigeonhole's `vnd.dovecot.testsuite` extension on top of the engine, used to
 * run the public Sieve conformance corpus. Not part of the production registry: it extends a copy.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isValidMailboxName } from '@hermod/mail-store';
import { compileWith } from '../src/compile.js';
import { COMPARATOR_TAGS, list, type Node, type Registry, SieveRuntimeError, str } from '../src/core.js';
import { defaultRegistry } from '../src/definitions.js';
import { validateMatch } from '../src/ext/common.js';
import { SIEVE_EXTENSIONS } from '../src/extensions.js';
import { parseAddressList, splitMessage } from '../src/message.js';
import { buildMailtoNotification, buildVacationReply, headerFields } from '../src/replies.js';
import { executeScript, finishScript, resultOf } from '../src/run.js';
import { type InternalAction, MessageState, RunState, type Runtime, StopSignal } from '../src/runtime.js';
import { deserializeCompiled, serializeCompiled } from '../src/serialize.js';
import type { CompiledScript, CompileOptions, SieveEnvironment, SieveMessage } from '../src/types.js';

export const TESTSUITE = 'vnd.dovecot.testsuite';

class TestFailure {
  constructor(readonly reason: string) {}
}

export interface TestOutcome {
  name: string;
  passed: boolean;
  reason?: string;
  /** Failed by an exception of the engine or the harness, not by a test or a Sieve error. */
  crashed?: boolean;
}

export interface FileOutcome {
  file: string;
  status: 'passed' | 'failed' | 'unsupported';
  reason?: string;
  tests: TestOutcome[];
}

/** The engine's variable size limit when the configuration sets none. */
const DEFAULT_VARIABLE_BYTES = new RunState(
  { raw: Buffer.alloc(0), envelopeFrom: '', envelopeTo: '' },
  { now: new Date(0), domain: 'example.com', subaddressSeparator: '+' },
).limits.maxVariableBytes;

const DEFAULT_MESSAGE = 'From: sender@example.com\nTo: recipient@example.org\nSubject: Frop!\n\nFriep!\n';

interface StoredMessage {
  raw: string;
  flags: string[];
}

interface Outgoing {
  from: string;
  to: string;
  raw: string;
}

/**
 * A mailbox's name in the test mail store, as Pigeonhole's testsuite store names it: "." separates
 * levels and INBOX (the name, or the first level) is case-insensitive, so "Inbox.Nonsense" is
 * "INBOX.Nonsense" there. Only the harness's store: Hermod's mailboxes use "/" (mda, IMAP).
 */
function storeName(name: string): string {
  return /^inbox(\.|$)/i.test(name) ? `INBOX${name.slice(5)}` : name;
}

/** The harness state of one .svtest file. */
class Suite {
  message!: SieveMessage;
  compiled: CompiledScript | undefined;
  errors: string[] = [];
  result: RunState | undefined;
  smtp: Outgoing[] = [];
  /** The test mail store: each mailbox's messages with the flags they were stored with. */
  mailboxes = new Map<string, StoredMessage[]>();
  config = new Map<string, string>();
  binaries = new Map<string, string>();
  /** Scripts the corpus refers to but does not contain. */
  missing: string[] = [];
  /** Extensions Hermod deliberately does not offer that scripts compiled by the test required. */
  unsupportedUsed = new Set<string>();
  tests: TestOutcome[] = [];
  constructor(
    readonly dir: string,
    readonly registry: Registry,
  ) {
    this.setMessage(DEFAULT_MESSAGE);
  }

  setMessage(text: string): void {
    const raw = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
    const { headers } = splitMessage(raw.toString('latin1'));
    const first = (name: string) => {
      const h = headers.find((f) => f.name.toLowerCase() === name);
      const a = h ? parseAddressList(h.raw.replace(/\r?\n/g, ''))?.[0] : undefined;
      return a?.localPart ? `${a.localPart}@${a.domain}` : undefined;
    };
    const to = first('envelope-to') ?? first('to') ?? 'recipient@example.com';
    const from = first('return-path') ?? first('sender') ?? first('from') ?? 'sender@example.com';
    this.message = { raw, envelopeFrom: from, envelopeTo: to, originalRecipient: to, auth: 'user' };
  }

  env(): SieveEnvironment {
    const num = (k: string) => (this.config.has(k) ? parseLimit(this.config.get(k)!) : undefined);
    const env: SieveEnvironment = {
      now: new Date(),
      domain: 'example.com',
      subaddressSeparator: this.config.get('recipient_delimiter') ?? '+',
      mailboxExists: (name) => this.mailboxes.has(storeName(name)) || storeName(name) === 'INBOX',
      environment: { location: 'MS' },
      timeBudgetMs: num('sieve_max_cpu_time') !== undefined ? num('sieve_max_cpu_time')! * 1000 : 2000,
    };
    const spam = this.scoreRatio('spamtest', 10);
    if (spam !== undefined) {
      env.spamScore = spam < 0 ? 0 : Math.trunc(spam * 9 + 1.001);
      env.spamPercent = spam < 0 ? 0 : Math.trunc(spam * 100 + 0.001);
    }
    const virus = this.scoreRatio('virustest', 5);
    if (virus !== undefined) env.virusScore = virus < 0 ? 0 : Math.trunc(virus * 4 + 1.001);
    // the setting's current name, and its name in older versions of the suite
    const variableBytes = num('sieve_variables_max_value_size') ?? num('sieve_variables_max_variable_size');
    if (variableBytes !== undefined) env.maxVariableBytes = variableBytes;
    const headerBytes = num('sieve_editheader_max_header_size');
    if (headerBytes !== undefined) env.maxHeaderBytes = headerBytes;
    if (this.config.get('sieve_vacation_use_original_recipient') === 'yes')
      env.vacationUseOriginalRecipient = true;
    if (this.config.get('sieve_vacation_dont_check_recipient') === 'yes')
      env.vacationDontCheckRecipient = true;
    const { forbidAdd, forbidDelete } = this.protectedHeaders();
    if (forbidAdd.length) env.editheaderForbidAdd = forbidAdd;
    if (forbidDelete.length) env.editheaderForbidDelete = forbidDelete;
    const notifications = num('sieve_notify_max_notifications');
    if (notifications !== undefined) env.maxNotifications = notifications;
    const actions = num('sieve_max_actions');
    if (actions !== undefined) env.maxActions = actions;
    const redirects = num('sieve_max_redirects');
    if (redirects !== undefined) env.maxRedirects = redirects;
    return env;
  }

  /**
   * Pigeonhole's editheader settings: `sieve_editheader_header` lists header entries, each with `/name`,
   * `/forbid_add` and `/forbid_delete`; older space-separated lists `sieve_editheader_protected`,
   * `sieve_editheader_forbid_add` and `sieve_editheader_forbid_delete` do the same.
   */
  protectedHeaders(): { forbidAdd: string[]; forbidDelete: string[] } {
    const words = (k: string) => (this.config.get(k) ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const forbidAdd = [...words('sieve_editheader_protected'), ...words('sieve_editheader_forbid_add')];
    const forbidDelete = [...words('sieve_editheader_protected'), ...words('sieve_editheader_forbid_delete')];
    for (const key of (this.config.get('sieve_editheader_header') ?? '').split(/\s+/).filter(Boolean)) {
      const setting = (s: string) => this.config.get(`sieve_editheader_header/${key}/${s}`);
      const name = (setting('name') ?? key).toLowerCase();
      if (setting('forbid_add') === 'yes') forbidAdd.push(name);
      if (setting('forbid_delete') === 'yes') forbidDelete.push(name);
    }
    return { forbidAdd, forbidDelete };
  }

  /**
   * Pigeonhole reads spam and virus scores from configured headers; Hermod's engine takes them from its
   * environment. This maps the testsuite configuration onto that environment (ratio 0..1, or undefined).
   */
  scoreRatio(kind: 'spamtest' | 'virustest', textMax: number): number | undefined {
    const c = (k: string) => this.config.get(`sieve_${kind}_${k}`);
    const statusSpec = c('status_header');
    if (!statusSpec) return undefined;
    const { headers } = splitMessage(this.message.raw.toString('utf8'));
    const read = (spec: string): string | undefined => {
      const colon = spec.indexOf(':');
      const name = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
      const field = headers.find((h) => h.name.toLowerCase() === name);
      if (!field) return undefined;
      const value = field.raw.replace(/\r?\n/g, '').trim();
      if (colon < 0) return value;
      const m = new RegExp(spec.slice(colon + 1).trim()).exec(value);
      return m?.[1];
    };
    const type = c('status_type') ?? 'score';
    let max: number;
    if (type === 'text') max = textMax;
    else {
      const maxHeader = c('score_max_header');
      const raw = maxHeader ? read(maxHeader) : c('score_max_value');
      if (raw === undefined || !/^-?(\d+\.?\d*|\.\d+)$/.test(raw.trim())) return -1;
      max = Number(raw);
      if (max === 0) return -1;
    }
    const status = read(statusSpec);
    if (status === undefined) return -1;
    let value: number;
    if (type === 'score') {
      if (!/^-?(\d+\.?\d*|\.\d+)$/.test(status.trim())) return -1;
      value = Number(status);
    } else if (type === 'strlen') value = status.length;
    else {
      let found = -1;
      for (let i = 0; i <= textMax; i++) if (c(`text_value/${i}`) === status) found = i;
      if (found < 0) return -1;
      value = found;
    }
    return value < 0 ? 0 : value > max ? 1 : value / max;
  }

  resolveInclude(scriptDir: string) {
    return (name: string, location: 'personal' | 'global') => {
      const dir =
        location === 'global' ? path.join(this.dir, 'included-global') : path.join(this.dir, 'included');
      for (const candidate of [path.join(dir, `${name}.sieve`), path.join(scriptDir, `${name}.sieve`)]) {
        try {
          return readFileSync(candidate, 'utf8');
        } catch {
          /* next */
        }
      }
      return undefined;
    };
  }

  compile(file: string): boolean {
    const full = path.resolve(this.dir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      this.errors = [`failed to open script ${file}`];
      this.missing.push(file);
      this.compiled = undefined;
      return false;
    }
    const limit = (k: string) => (this.config.has(k) ? parseLimit(this.config.get(k)!) : undefined);
    // Sub-test scripts may use the test commands themselves (include/execute/namespace.sieve does)
    const options: CompileOptions = {
      extensions: [...SIEVE_EXTENSIONS, TESTSUITE],
      includeResolver: this.resolveInclude(path.dirname(full)),
    };
    const includes = limit('sieve_include_max_includes');
    if (includes !== undefined) options.maxIncludes = includes;
    const depth = limit('sieve_include_max_nesting_depth');
    if (depth !== undefined) options.maxIncludeDepth = depth;
    const headerBytes = limit('sieve_editheader_max_header_size');
    if (headerBytes !== undefined) options.maxHeaderBytes = headerBytes;
    const notifications = limit('sieve_notify_max_notifications');
    if (notifications !== undefined) options.maxNotifications = notifications;
    const size = limit('sieve_max_script_size');
    if (size !== undefined) options.maxScriptBytes = size;
    const r = compileWith(this.registry, text, options);
    if (!r.ok) {
      // like Pigeonhole's test log, test_error sees the message without its location
      this.errors = r.errors.map((e) => e.message);
      for (const ext of unknownCapabilities(r.errors))
        if (DELIBERATELY_UNSUPPORTED[ext]) this.unsupportedUsed.add(ext);
      // Pigeonhole's log ends a failed compile with one more error line; its counts include it
      const parse = r.errors.some((e) =>
        /^(expecting|unexpected|end of file|invalid character|number exceeds)/.test(e.message),
      );
      this.errors.push(`${file}: error: ${parse ? 'parse' : 'validation'} failed`);
      this.compiled = undefined;
      return false;
    }
    this.errors = r.warnings.map((e) => `${file}: line ${e.line}: warning: ${e.message}`);
    this.compiled = r.script;
    return true;
  }

  async run(append: boolean): Promise<boolean> {
    if (!this.compiled) return false;
    if (!append || !this.result) this.result = new RunState(this.message, this.env());
    const err = await executeScript(this.registry, this.compiled, this.result, 'script');
    this.errors = [
      ...this.result.notices.map((n) => `line ${n.line}: error: ${n.message}`),
      ...(err ? [`line ${err.line}: error: ${err.message}`] : []),
    ];
    this.result.notices = [];
    if (err) {
      // a failed run delivers by the implicit keep only (the engine's fallback); executed actions stand
      this.result.actions.length = this.result.committed;
      this.result.keepCancelled = false;
    }
    return !err;
  }

  /** Pigeonhole's sieve_redirect_envelope_from (Hermod's delivery agent uses SRS instead). */
  redirectSender(): string {
    const cfg = (this.config.get('sieve_redirect_envelope_from') ?? 'sender').trim();
    const m = this.message;
    if (m.envelopeFrom === '') return '';
    if (cfg === 'recipient') return m.envelopeTo;
    if (cfg === 'orig_recipient') return m.originalRecipient ?? m.envelopeTo;
    if (cfg === 'user_email') return this.config.get('sieve_user_email') ?? m.envelopeTo;
    if (cfg.startsWith('<') && cfg.endsWith('>')) return cfg.slice(1, -1);
    return m.envelopeFrom;
  }

  /** Applies the result: stores into the test mail store, sends outgoing messages into the SMTP outbox. */
  execute(): boolean {
    const st = this.result;
    if (!st) return false;
    // like Pigeonhole, only actions not executed before; they are final afterwards
    const result = resultOf(st, st.committed);
    st.committed = st.actions.length;
    st.keepCancelled = false;
    st.explicitKeep = false;
    const text = st.message.text();
    let ok = true;
    this.errors = [];
    const store = (name: string, create: boolean, flags: string[], edited?: Buffer) => {
      const mailbox = storeName(name);
      const content = edited ? edited.toString('latin1') : text;
      if (mailbox !== 'INBOX' && !this.mailboxes.has(mailbox)) {
        if (!create) {
          this.errors.push(`failed to store into mailbox '${mailbox}': Mailbox doesn't exist: ${mailbox}`);
          ok = false;
          return;
        }
        // Hermod's mail store creates only names IMAP CREATE accepts (mda then keeps the message)
        if (!isValidMailboxName(mailbox)) {
          this.errors.push(`failed to store into mailbox '${mailbox}': invalid mailbox name`);
          ok = false;
          return;
        }
        this.mailboxes.set(mailbox, []);
      }
      if (!this.mailboxes.has(mailbox)) this.mailboxes.set(mailbox, []);
      this.mailboxes.get(mailbox)!.push({ raw: content, flags });
    };
    for (const a of result.actions) {
      switch (a.kind) {
        case 'keep':
          store('INBOX', true, a.flags, a.message);
          break;
        case 'fileinto':
          store(a.mailbox, a.create, a.flags, a.message);
          break;
        case 'redirect': {
          const user = this.config.get('sieve_user_email') ?? this.message.envelopeTo;
          const seen = st.message.headers.some(
            (h) =>
              h.name.toLowerCase() === 'x-sieve-redirected-from' &&
              [user, this.message.envelopeTo].some((u) => h.raw.toLowerCase().includes(u.toLowerCase())),
          );
          if (seen) break; // mail loop: this user redirected the message before
          this.smtp.push({
            from: this.redirectSender(),
            to: a.address,
            raw: `X-Sieve-Redirected-From: ${user}\r\n${a.message ? a.message.toString('latin1') : text}`,
          });
          break;
        }
        case 'vacation': {
          // composed as delivery composes it
          const to = this.message.envelopeFrom;
          const raw = buildVacationReply({
            from: a.from ?? this.message.envelopeTo,
            to,
            ...(a.subject !== undefined ? { subject: a.subject } : {}),
            reason: a.reason,
            mime: a.mime,
            original: headerFields(Buffer.from(text, 'latin1')),
            hostname: 'example.com',
          });
          const from =
            this.config.get('sieve_vacation_send_from_recipient') === 'yes' ? this.message.envelopeTo : '';
          this.smtp.push({ from, to, raw: raw.toString('latin1') });
          break;
        }
        case 'reject': {
          const to = this.message.envelopeFrom;
          if (!to) break;
          this.smtp.push({
            from: '',
            to,
            raw: `From: Postmaster <postmaster@example.com>\r\nTo: <${to}>\r\nSubject: Rejected: ${st.message.headers.find((h) => h.name.toLowerCase() === 'subject')?.raw.trim() ?? ''}\r\nAuto-Submitted: auto-replied (rejected)\r\n\r\n${a.reason}\r\n`,
          });
          break;
        }
        case 'notify': {
          const notice = buildMailtoNotification({
            method: a.method,
            from: a.from ?? this.message.envelopeTo,
            ...(a.message !== undefined ? { message: a.message } : {}),
            ...(a.importance !== undefined ? { importance: a.importance } : {}),
            original: headerFields(Buffer.from(text, 'latin1')),
            hostname: 'example.com',
          });
          for (const to of notice?.recipients ?? [])
            this.smtp.push({ from: '', to, raw: notice!.body.toString('latin1') });
          break;
        }
        case 'discard':
          break;
      }
    }
    if (!ok) {
      // a failed execution falls back to the implicit keep of the message as received
      if (!this.mailboxes.has('INBOX')) this.mailboxes.set('INBOX', []);
      this.mailboxes.get('INBOX')!.push({ raw: this.message.raw.toString('latin1'), flags: [] });
    }
    return ok;
  }
}

function parseLimit(v: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(v.trim());
  if (!m) return Number(v);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return unit === 'k' ? n * 1024 : unit === 'm' ? n * 1024 * 1024 : n;
}

function resetState(st: RunState): void {
  st.actions = [];
  st.committed = 0;
  st.keepCancelled = false;
  st.explicitKeep = false;
  st.redirects = 0;
  st.duplicates = [];
  st.implicitFlags = [];
}

function suiteOf(rt: Runtime): Suite {
  return rt.state.host as Suite;
}

/** Action names as the testsuite reports them. */
function actionName(a: InternalAction | { kind: 'keep' }): string {
  return a.kind === 'fileinto' ? 'store' : a.kind;
}

function registerTestsuite(reg: Registry): void {
  reg.known.add(TESTSUITE);
  reg.add({
    name: 'test',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    block: 'required',
    async run(node, rt) {
      const suite = suiteOf(rt);
      const name = str(node.pos[0])!;
      resetState(rt.state);
      suite.result = rt.state;
      suite.errors = [];
      try {
        await rt.runBlock(node.block ?? []);
        suite.tests.push({ name, passed: true });
      } catch (e) {
        if (e instanceof TestFailure) suite.tests.push({ name, passed: false, reason: e.reason });
        else if (e instanceof StopSignal) suite.tests.push({ name, passed: true });
        else {
          const reason = e instanceof Error ? e.message : String(e);
          suite.tests.push({ name, passed: false, reason, crashed: !(e instanceof SieveRuntimeError) });
        }
      }
    },
  });
  reg.add({
    name: 'test_fail',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    run(node, rt) {
      throw new TestFailure(rt.estr(node.pos[0]));
    },
  });
  reg.add({
    name: 'test_set',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string', 'string'],
    run(node, rt) {
      const suite = suiteOf(rt);
      const what = str(node.pos[0])!.toLowerCase();
      const value = rt.estr(node.pos[1]);
      const addr = (v: string) => v;
      if (what === 'message') suite.setMessage(value);
      else if (what === 'envelope.from')
        suite.message = { ...suite.message, envelopeFrom: value === '' || value === '<>' ? '' : addr(value) };
      else if (what === 'envelope.to')
        suite.message = { ...suite.message, envelopeTo: addr(value), originalRecipient: addr(value) };
      else if (what === 'envelope.orig_to')
        suite.message = { ...suite.message, originalRecipient: addr(value) };
      else if (what === 'envelope.auth') suite.message = { ...suite.message, auth: value };
      else throw new TestFailure(`unknown testsuite object '${what}'`);
      rt.state.message = new MessageState(suite.message);
      if (what === 'message') rt.flags = ''; // a new message, not yet stored: no flags
    },
  });
  reg.add({
    name: 'test_config_set',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string', 'string'],
    run(node, rt) {
      suiteOf(rt).config.set(rt.estr(node.pos[0]), rt.estr(node.pos[1]));
    },
  });
  reg.add({
    name: 'test_config_unset',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    run(node, rt) {
      suiteOf(rt).config.delete(rt.estr(node.pos[0]));
    },
  });
  reg.add({
    name: 'test_config_reload',
    kind: 'command',
    ext: TESTSUITE,
    pos: [],
    tags: { extension: { arg: 'string' } },
    run(node, rt) {
      // settings that act while a script runs take effect in the running test script too
      const ext = node.tags.extension !== undefined ? rt.estr(node.tags.extension) : undefined;
      if (ext === undefined || ext === 'variables')
        rt.state.limits.maxVariableBytes = suiteOf(rt).env().maxVariableBytes ?? DEFAULT_VARIABLE_BYTES;
    },
  });
  reg.add({
    name: 'test_mailbox_create',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    run(node, rt) {
      const suite = suiteOf(rt);
      const name = storeName(rt.estr(node.pos[0]));
      if (!suite.mailboxes.has(name)) suite.mailboxes.set(name, []);
    },
  });
  reg.add({
    name: 'test_result_reset',
    kind: 'command',
    ext: TESTSUITE,
    pos: [],
    run(_node, rt) {
      const suite = suiteOf(rt);
      resetState(rt.state);
      suite.result = rt.state;
      suite.smtp = [];
    },
  });
  reg.add({
    name: 'test_result_print',
    kind: 'command',
    ext: TESTSUITE,
    pos: [],
    run() {},
  });
  reg.add({
    name: 'test_binary_save',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    run(node, rt) {
      const suite = suiteOf(rt);
      if (suite.compiled) suite.binaries.set(rt.estr(node.pos[0]), serializeCompiled(suite.compiled));
    },
  });
  reg.add({
    name: 'test_binary_load',
    kind: 'command',
    ext: TESTSUITE,
    pos: ['string'],
    run(node, rt) {
      const suite = suiteOf(rt);
      const text = suite.binaries.get(rt.estr(node.pos[0]));
      if (!text) throw new TestFailure('failed to load binary');
      suite.compiled = deserializeCompiled(text);
    },
  });
  // tests
  reg.add({
    name: 'test_script_compile',
    kind: 'test',
    ext: TESTSUITE,
    pos: ['string'],
    test(node, rt) {
      return suiteOf(rt).compile(rt.estr(node.pos[0]));
    },
  });
  reg.add({
    name: 'test_script_run',
    kind: 'test',
    ext: TESTSUITE,
    pos: [],
    tags: { append_result: {} },
    test(node, rt) {
      return suiteOf(rt).run(node.tags.append_result !== undefined);
    },
  });
  reg.add({
    name: 'test_multiscript',
    kind: 'test',
    ext: TESTSUITE,
    pos: ['stringlist'],
    async test(node, rt) {
      const suite = suiteOf(rt);
      suite.result = undefined;
      for (const file of rt.elist(node.pos[0])) {
        if (!suite.compile(file)) return false;
        if (!(await suite.run(true))) return false;
        if (suite.result && !finishScript(suite.result)) break;
      }
      return suite.execute();
    },
  });
  reg.add({
    name: 'test_result_execute',
    kind: 'test',
    ext: TESTSUITE,
    pos: [],
    test(_node, rt) {
      return suiteOf(rt).execute();
    },
  });
  /** test_error and test_result_action: match the listed items (or the one at :index) against keys. */
  const listTest = (name: string, items: (suite: Suite) => string[]) =>
    reg.add({
      name,
      kind: 'test',
      ext: TESTSUITE,
      pos: ['stringlist'],
      tags: { ...COMPARATOR_TAGS, index: { arg: 'number' } },
      validate(node, ctx) {
        validateMatch(node, ctx, list(node.pos[0]));
      },
      test(node, rt) {
        const all = items(suiteOf(rt));
        const index = typeof node.tags.index === 'number' ? node.tags.index : 0;
        const values = index > 0 ? (all[index - 1] !== undefined ? [all[index - 1]!] : []) : all;
        return withDefaults(node, rt, values);
      },
    });
  listTest('test_error', (suite) => suite.errors.filter((e) => !e.includes('warning:')));
  listTest('test_result_action', (suite) => (suite.result ? suite.result.actions.map(actionName) : []));
  const message = {
    name: 'test_message',
    ext: TESTSUITE,
    pos: ['number' as const],
    tags: { smtp: { group: 'source' }, folder: { group: 'source', arg: 'string' as const } },
    validate(node: Node, ctx: { error(n: Node, m: string): void }) {
      if (node.tags.smtp === undefined && node.tags.folder === undefined)
        ctx.error(node, 'the test_message command requires either the :smtp or the :folder tag');
    },
  };
  const select = (node: Node, rt: Runtime): boolean => {
    const suite = suiteOf(rt);
    const index = node.pos[0] as number;
    let picked: SieveMessage | undefined;
    if (node.tags.smtp !== undefined) {
      const m = suite.smtp[index];
      if (m)
        picked = { raw: Buffer.from(m.raw, 'latin1'), envelopeFrom: m.from, envelopeTo: m.to, auth: 'user' };
    } else {
      const box = suite.mailboxes.get(storeName(rt.estr(node.tags.folder)));
      const m = box?.[index];
      if (m)
        picked = {
          raw: Buffer.from(m.raw, 'latin1'),
          envelopeFrom: suite.message.envelopeFrom,
          envelopeTo: suite.message.envelopeTo,
          auth: 'user',
        };
    }
    if (!picked) return false;
    suite.message = picked;
    rt.state.message = new MessageState(picked);
    // like a mail read from a mailbox, the message under test carries its stored flags (imap4flags)
    const stored =
      node.tags.folder !== undefined
        ? suite.mailboxes.get(storeName(rt.estr(node.tags.folder)))?.[index]
        : undefined;
    rt.flags = (stored?.flags ?? []).join(' ');
    return true;
  };
  reg.add({ ...message, kind: 'test', test: select });
  reg.add({
    ...message,
    kind: 'command',
    run(node, rt) {
      if (!select(node, rt))
        throw new TestFailure(
          node.tags.smtp !== undefined
            ? `no outgoing message with index ${String(node.pos[0])}`
            : `no message in folder '${rt.estr(node.tags.folder)}' with index ${String(node.pos[0])}`,
        );
    },
  });
}

/** Testsuite tests compare with :is and i;octet unless told otherwise. */
function withDefaults(node: Node, rt: Runtime, values: string[]): boolean {
  const n: Node = { ...node, tags: { ...node.tags } };
  if (n.tags.comparator === undefined) n.tags.comparator = 'i;octet';
  return rt.match(n, values, list(node.pos[0]));
}

const harnessRegistry: Registry = (() => {
  const reg = defaultRegistry.clone();
  registerTestsuite(reg);
  return reg;
})();

/** The capabilities compile errors name as unknown (lower case). */
function unknownCapabilities(errors: readonly { message: string }[]): string[] {
  return errors
    .map((e) => /unknown Sieve capability '([^']+)'/.exec(e.message)?.[1]?.toLowerCase())
    .filter((x): x is string => !!x);
}

/** Extensions the corpus uses that Hermod deliberately does not offer, with the reason. */
export const DELIBERATELY_UNSUPPORTED: Record<string, string> = {
  extlists: 'external lists (RFC 6134) need a list service Hermod does not have',
  mboxmetadata: 'IMAP METADATA (RFC 5490 metadata tests) is not offered by Hermod IMAP',
  servermetadata: 'IMAP METADATA (RFC 5490 metadata tests) is not offered by Hermod IMAP',
  'vnd.dovecot.debug': 'Dovecot-specific debugging extension',
  imapflags: 'the pre-RFC imapflags draft, replaced by imap4flags (RFC 5232), which Hermod offers',
  notify: 'the pre-RFC notify draft, replaced by enotify (RFC 5435), which Hermod offers',
};

/**
 * Files of the corpus's `failures/` folder are regression scripts for crashes (fuzzer finds): each fails
 * in any implementation (fuzz3 reads the third message of a folder holding one, fuzz4 has a syntax error,
 * mailbox-bad-utf8 names a folder that cannot exist) and Pigeonhole runs them expecting that failure. Such
 * a file passes when it fails cleanly: by its tests or a compile or Sieve runtime error, never by an
 * exception of the engine or the harness.
 */
const EXPECTED_TO_FAIL = 'failures';

/** Runs one .svtest file. */
export async function runSvtest(file: string): Promise<FileOutcome> {
  const outcome = await runSvtestAsWritten(file);
  if (path.basename(path.dirname(file)) !== EXPECTED_TO_FAIL) return outcome;
  if (outcome.status === 'failed' && !outcome.tests.some((t) => t.crashed))
    return { ...outcome, status: 'passed', reason: `failed as expected: ${outcome.reason ?? ''}` };
  if (outcome.status === 'passed')
    return { ...outcome, status: 'failed', reason: 'a script of failures/ was expected to fail' };
  return outcome;
}

async function runSvtestAsWritten(file: string): Promise<FileOutcome> {
  const dir = path.dirname(file);
  const source = readFileSync(file, 'utf8');
  const suite = new Suite(dir, harnessRegistry);
  const r = compileWith(harnessRegistry, source, {
    extensions: [...SIEVE_EXTENSIONS, TESTSUITE],
    includeResolver: suite.resolveInclude(dir),
  });
  if (!r.ok) {
    const missing = unknownCapabilities(r.errors);
    const reasons = missing.map((m) =>
      DELIBERATELY_UNSUPPORTED[m] ? `${m}: ${DELIBERATELY_UNSUPPORTED[m]}` : `${m}: not implemented`,
    );
    if (missing.length)
      return { file, status: 'unsupported', reason: `requires ${reasons.join('; ')}`, tests: [] };
    return {
      file,
      status: 'failed',
      reason: `test script does not compile: ${r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join(' | ')}`,
      tests: [],
    };
  }
  const state = new RunState(suite.message, { ...suite.env(), timeBudgetMs: 60000 });
  // the test script sees configuration changes (test_config_set) as they happen
  Object.defineProperty(state, 'env', { get: () => ({ ...suite.env(), timeBudgetMs: 60000 }) });
  state.host = suite;
  suite.result = state;
  const err = await executeScript(harnessRegistry, r.script, state, file);
  const failed = suite.tests.filter((t) => !t.passed);
  if (err)
    return {
      file,
      status: 'failed',
      reason: `runtime error at line ${err.line}: ${err.message}`,
      tests: suite.tests,
    };
  if (failed.length && suite.missing.length && failed.every((t) => /compile/.test(t.reason ?? '')))
    return {
      file,
      status: 'unsupported',
      reason: `refers to scripts that are not in the corpus: ${[...new Set(suite.missing)].join(', ')}`,
      tests: suite.tests,
    };
  // a file whose tests compile scripts using an extension Hermod deliberately does not offer (the
  // extlists and metadata error tests count the errors those scripts give where it is offered)
  if (failed.length && suite.unsupportedUsed.size > 0)
    return {
      file,
      status: 'unsupported',
      reason: `its scripts require ${[...suite.unsupportedUsed].map((m) => `${m}: ${DELIBERATELY_UNSUPPORTED[m]}`).join('; ')}`,
      tests: suite.tests,
    };
  if (failed.length)
    return {
      file,
      status: 'failed',
      reason: failed.map((t) => `${t.name}: ${t.reason}`).join(' | '),
      tests: suite.tests,
    };
  return { file, status: 'passed', tests: suite.tests };
}
