import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileSieve,
  deserializeCompiled,
  ParsedMessage,
  runSieve,
  runSieveScripts,
  SIEVE_EXTENSIONS,
  type SieveEnvironment,
  type SieveMessage,
  serializeCompiled,
} from '../src/index.js';

const MESSAGE =
  'From: Alice <alice@example.org>\r\nTo: bob+lists@example.com\r\nSubject: [acme-users] hello there\r\n' +
  'Message-ID: <m1@example.org>\r\nList-Id: <acme.example.org>\r\n\r\nHello Bob,\r\nsee you.\r\n';

function message(raw = MESSAGE, from = 'alice@example.org'): SieveMessage {
  return { raw: Buffer.from(raw), envelopeFrom: from, envelopeTo: 'bob+lists@example.com' };
}
const env = (extra: Partial<SieveEnvironment> = {}): SieveEnvironment => ({
  now: new Date('2026-12-06T12:00:00Z'),
  domain: 'example.com',
  subaddressSeparator: '+',
  ...extra,
});

function compiled(src: string) {
  const r = compileSieve(src);
  if (!r.ok) assert.fail(`compile failed: ${JSON.stringify(r.errors)}`);
  return r.script;
}

test('compile errors name line and column', () => {
  const r = compileSieve('require "fileinto";\n\nif header :is "subject" "x" {\n    fileinto;\n}\n');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.column]),
    [[4, 5]],
  );
  assert.match(r.errors[0]!.message, /fileinto command requires 1 positional argument/);
  const lex = compileSieve('keep;\n  "unterminated');
  assert.equal(lex.ok, false);
  if (!lex.ok) assert.deepEqual([lex.errors[0]!.line, lex.errors[0]!.column], [2, 3]);
});

test('one compile reports every independent error, each with line and column', () => {
  // a missing ';' inside a block, a spurious ',' in a test list, a garbage argument: each recovered at the
  // end of its command, list or block, then parsing goes on
  const parse = compileSieve('if true {\n  keep\n}\nif anyof(true,) { stop; }\nfrop $$;\nkeep;');
  assert.equal(parse.ok, false);
  if (!parse.ok)
    assert.deepEqual(
      parse.errors.map((e) => [e.line, e.column]),
      [
        [3, 1],
        [4, 15],
        [5, 6],
        [5, 6],
      ],
    );
  // validation goes on after an invalid command; an unknown command is reported once
  const valid = compileSieve('frob;\nstop "x";\nfrob;\nkeep true;\nfileinto "a";');
  assert.equal(valid.ok, false);
  if (!valid.ok)
    assert.deepEqual(
      valid.errors.map((e) => e.line),
      [1, 2, 4, 5],
    );
});

test('unknown and unrequired extensions are compile errors', () => {
  const r = compileSieve('require "vnd.dovecot.testsuite";');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.errors[0]!.message, /unknown Sieve capability 'vnd.dovecot.testsuite'/);
  const s = compileSieve('fileinto "x";');
  assert.equal(s.ok, false);
  if (!s.ok) assert.match(s.errors[0]!.message, /require "fileinto"/);
  assert.ok(!SIEVE_EXTENSIONS.includes('vnd.dovecot.testsuite'));
});

test('size and nesting limits give clear errors in bounded time', () => {
  const big = compileSieve(`# ${'x'.repeat(2000)}\nkeep;`, { maxScriptBytes: 1000 });
  assert.equal(big.ok, false);
  if (!big.ok) assert.match(big.errors[0]!.message, /script is too large .* limit is 1000 bytes/);
  const depth = 100000;
  const t0 = performance.now();
  const deep = compileSieve(`${'if true {'.repeat(depth)}keep;${'}'.repeat(depth)}`);
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(deep.ok, false);
  if (!deep.ok) assert.match(deep.errors[0]!.message, /nest .* deeper than 32 levels/);
  const tests = compileSieve(`if ${'not '.repeat(depth)}true { keep; }`);
  assert.equal(tests.ok, false);
});

test('include loops and missing includes are compile errors', () => {
  const scripts: Record<string, string> = {
    a: 'require "include"; include "b";',
    b: 'require "include"; include "a";',
  };
  const r = compileSieve('require "include"; include "a";', { includeResolver: (n) => scripts[n] });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.errors.map((e) => e.message).join('\n'), /circular include/);
  const missing = compileSieve('require "include"; include :global "nope";', {
    includeResolver: () => undefined,
  });
  assert.equal(missing.ok, false);
  const optional = compileSieve('require "include"; include :optional "nope";', {
    includeResolver: () => undefined,
  });
  assert.equal(optional.ok, true);
});

test('filing with flags and match variables, then stop', async () => {
  const script = compiled(`require ["fileinto", "imap4flags", "variables", "subaddress", "envelope"];
if header :matches "subject" "[*] *" {
  addflag "\\\\Flagged";
  fileinto "lists.\${1}";
  stop;
}
keep;`);
  const r = await runSieve(script, message(), env());
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.actions, [
    { kind: 'fileinto', mailbox: 'lists.acme-users', create: false, flags: ['\\Flagged'], copy: false },
  ]);
});

test('subaddress with the domain separator, envelope, :copy keeps the implicit keep', async () => {
  const script = compiled(`require ["fileinto", "copy", "subaddress", "envelope"];
if envelope :detail "to" "lists" { fileinto :copy "Lists"; }`);
  const r = await runSieve(script, message(), env());
  assert.deepEqual(
    r.actions.map((a) => a.kind),
    ['fileinto', 'keep'],
  );
});

test('pathological regular expressions run in linear time', async () => {
  const script = compiled(`require ["regex", "variables"];
set "s" "${'a'.repeat(3000)}!";
if string :regex "\${s}" "^(a+)+$" { discard; }
if string :regex "\${s}" "^(a|aa)*b" { discard; }`);
  const t0 = performance.now();
  const r = await runSieve(script, message(), env({ timeBudgetMs: 5000 }));
  assert.ok(performance.now() - t0 < 3000, 'regex finished within the budget');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.actions.map((a) => a.kind),
    ['keep'],
  );
});

test('the cpu time budget stops a run and falls back to keep', async () => {
  // The subject holds the regex's required literal (cd), so the prefilter lets the engine run over
  // all of it; (a|b|ab|ba)+ before cd can never match, so every run scans the whole subject.
  const script = compiled(`require ["regex", "variables"];
set "a" "${'ab'.repeat(1900)}";
if string :regex "cd\${a}\${a}" "(a|b|ab|ba)+cd" { discard; }
if string :regex "cd\${a}\${a}" "(a|b|ab|ba)+cd" { discard; }
if string :regex "cd\${a}\${a}" "(a|b|ab|ba)+cd" { discard; }
discard;`);
  const r = await runSieve(script, message(), env({ timeBudgetMs: 1 }));
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.message, /cpu time budget/);
  assert.deepEqual(r.actions, [{ kind: 'keep', flags: [] }]);
});

test('action and redirect limits are runtime errors with a keep fallback', async () => {
  const script = compiled(
    'redirect "a@example.net"; redirect "b@example.net"; redirect "c@example.net"; discard;',
  );
  const r = await runSieve(script, message(), env({ maxRedirects: 2 }));
  assert.match(r.errors[0]!.message, /number of redirect actions exceeds policy limit \(2\)/);
  assert.deepEqual(r.actions, [{ kind: 'keep', flags: [] }]);
});

test('vacation: reply described for a personal message, never for list mail', async () => {
  const script = compiled(`require "vacation";
vacation :days 3 :subject "Away" :addresses ["bob@example.com"] "I am away.";`);
  const personal = MESSAGE.replace('List-Id: <acme.example.org>\r\n', '').replace('bob+lists@', 'bob@');
  const r = await runSieve(script, message(personal), env());
  const vacation = r.actions.find((a) => a.kind === 'vacation');
  assert.ok(vacation && vacation.kind === 'vacation');
  assert.equal(vacation.seconds, 3 * 86400);
  assert.equal(vacation.reason, 'I am away.');
  const list = await runSieve(script, message(), env());
  assert.equal(
    list.actions.find((a) => a.kind === 'vacation'),
    undefined,
  );
  const bounce = await runSieve(script, message(personal, ''), env());
  assert.equal(
    bounce.actions.find((a) => a.kind === 'vacation'),
    undefined,
  );
});

test('the string test compares with i;octet unless told otherwise, as Pigeonhole does; other tests with i;ascii-casemap', async () => {
  const script = compiled(`require ["variables", "fileinto"];
set :lower :upperfirst "v" "vAlUe";
if string :is "\${v}" "value" { fileinto "octet-broken"; }
if string :is "\${v}" "Value" { fileinto "octet"; }
if string :is :comparator "i;ascii-casemap" "\${v}" "VALUE" { fileinto "casemap"; }
if header :is "subject" "[ACME-USERS] HELLO THERE" { fileinto "header-casemap"; }`);
  const r = await runSieve(script, message(), env());
  assert.deepEqual(
    r.actions.filter((a) => a.kind === 'fileinto').map((a) => (a.kind === 'fileinto' ? a.mailbox : '')),
    ['octet', 'casemap', 'header-casemap'],
  );
});

test('vacation :handle defaults from the script (reason, :subject, :from, :mime), never from the message; Subject defaults to "Auto: " and the original (RFC 5230 4.2, 4.3)', async () => {
  const personal = (subject: string) =>
    `From: alice@example.org\r\nTo: bob+lists@example.com\r\nSubject: ${subject}\r\n\r\nHi\r\n`;
  const vacationOf = async (src: string, subject: string) => {
    const r = await runSieve(compiled(src), message(personal(subject)), env());
    const v = r.actions.find((a) => a.kind === 'vacation');
    assert.ok(v && v.kind === 'vacation', src);
    return v;
  };
  const plain = 'require "vacation"; vacation "Away.";';
  const first = await vacationOf(plain, 'lunch?');
  const second = await vacationOf(plain, '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=');
  assert.equal(first.handle, second.handle, 'one handle whatever the message');
  assert.equal(first.subject, 'Auto: lunch?');
  assert.equal(second.subject, 'Auto: Grüße', 'the original decoded (RFC 2047)');
  assert.notEqual((await vacationOf('require "vacation"; vacation "Gone.";', 'lunch?')).handle, first.handle);
  assert.notEqual(
    (await vacationOf('require "vacation"; vacation :subject "Out" "Away.";', 'lunch?')).handle,
    first.handle,
  );
  assert.equal((await vacationOf('require "vacation"; vacation :handle "h1" "Away.";', 'x')).handle, 'h1');
});

test('vacation periods are held within the configured minimum and maximum (RFC 5230 4.1, RFC 6131 2)', async () => {
  const personal = MESSAGE.replace('List-Id: <acme.example.org>\r\n', '');
  const periodOf = async (src: string, extra: Partial<SieveEnvironment> = {}) => {
    const r = await runSieve(compiled(src), message(personal), env(extra));
    const v = r.actions.find((a) => a.kind === 'vacation');
    assert.ok(v && v.kind === 'vacation', src);
    return v.seconds;
  };
  const limits = { vacationMinSeconds: 3600, vacationMaxSeconds: 30 * 86400 };
  // out of range: the site's limit is used instead
  assert.equal(await periodOf('require "vacation"; vacation :days 365 "Away.";', limits), 30 * 86400);
  assert.equal(
    await periodOf('require ["vacation", "vacation-seconds"]; vacation :seconds 5 "Away.";', limits),
    3600,
  );
  // within range, and the default of 7 days, as given
  assert.equal(await periodOf('require "vacation"; vacation :days 2 "Away.";', limits), 2 * 86400);
  assert.equal(await periodOf('require "vacation"; vacation "Away.";', limits), 7 * 86400);
  // without configured limits: at most 60 days, and :seconds 0 answers every message (RFC 6131)
  assert.equal(await periodOf('require "vacation"; vacation :days 365 "Away.";'), 60 * 86400);
  assert.equal(await periodOf('require ["vacation", "vacation-seconds"]; vacation :seconds 0 "Away.";'), 0);
  // :days stays at least one day (RFC 5230 4.1) whatever the minimum
  assert.equal(await periodOf('require "vacation"; vacation :days 0 "Away.";'), 86400);
});

test("vacation counts the account's further addresses as the user's (RFC 5230 4.5) and replies from the one named", async () => {
  const script = compiled('require "vacation"; vacation "I am away.";');
  const toAlias =
    'From: alice@example.org\r\nTo: Robert <robert@example.com>\r\nSubject: hi\r\n\r\nHello\r\n';
  const without = await runSieve(script, message(toAlias), env());
  assert.equal(
    without.actions.find((a) => a.kind === 'vacation'),
    undefined,
  );
  const withAlias = await runSieve(script, message(toAlias), env({ userAddresses: ['Robert@example.com'] }));
  const reply = withAlias.actions.find((a) => a.kind === 'vacation');
  assert.ok(reply && reply.kind === 'vacation');
  assert.equal(reply.from, 'robert@example.com');
  // a name that merely contains an address of the user is not it
  const lookalike = toAlias.replace('robert@example.com', 'notrobert@example.com.evil');
  const none = await runSieve(script, message(lookalike), env({ userAddresses: ['robert@example.com'] }));
  assert.equal(
    none.actions.find((a) => a.kind === 'vacation'),
    undefined,
  );
  // mail from one of the user's own addresses gets no reply
  const fromSelf = toAlias.replace('alice@example.org', 'robert@example.com');
  const self = await runSieve(
    script,
    message(fromSelf, 'robert@example.com'),
    env({ userAddresses: ['robert@example.com'] }),
  );
  assert.equal(
    self.actions.find((a) => a.kind === 'vacation'),
    undefined,
  );
});

test('vacation without :from replies from the address of the user the message named (RFC 5230 4.5)', async () => {
  // The user's addresses are the envelope recipient and :addresses; the message was sent to the alias.
  const script = compiled(`require "vacation";
vacation :addresses ["bob.alias@example.net"] "I am away.";`);
  const toAlias =
    'From: alice@example.org\r\nTo: Bob <bob.alias@example.net>\r\nSubject: hi\r\n\r\nHello\r\n';
  const viaAlias = await runSieve(script, message(toAlias), env());
  const reply = viaAlias.actions.find((a) => a.kind === 'vacation');
  assert.ok(reply && reply.kind === 'vacation');
  assert.equal(reply.from, 'bob.alias@example.net');
  // named by the envelope address itself: that one; with :from: the script's choice stands
  const toSelf = toAlias.replace('Bob <bob.alias@example.net>', 'bob+lists@example.com');
  const direct = (await runSieve(script, message(toSelf), env())).actions.find((a) => a.kind === 'vacation');
  assert.ok(direct && direct.kind === 'vacation');
  assert.equal(direct.from, 'bob+lists@example.com');
  const chosen = compiled(`require "vacation";
vacation :from "Bob <bob@example.com>" :addresses ["bob.alias@example.net"] "I am away.";`);
  const explicit = (await runSieve(chosen, message(toAlias), env())).actions.find(
    (a) => a.kind === 'vacation',
  );
  assert.ok(explicit && explicit.kind === 'vacation');
  assert.equal(explicit.from, 'Bob <bob@example.com>');
});

test(':quotewildcard cut by the variable size limit never ends in half an escape (RFC 5229 4.1.2)', async () => {
  // "a****" quotes to a\*\*\*\* (9 bytes); with 8 allowed, a\*\*\*\ would end in a lone backslash,
  // which as a :matches key escapes nothing and no longer matches the stars literally
  const script = compiled(`require ["variables", "fileinto"];
set :quotewildcard "q" "a****";
if string :is "\${q}" "a\\\\*\\\\*\\\\*" { fileinto "cut-whole"; }`);
  const r = await runSieve(script, message(), env({ maxVariableBytes: 8 }));
  const first = r.actions[0];
  assert.equal(first?.kind === 'fileinto' ? first.mailbox : first?.kind, 'cut-whole');
});

test('editheader returns the modified message; actions carry the message they saw', async () => {
  const script = compiled(`require ["editheader", "fileinto"];
addheader "X-Sieve" "seen";
fileinto "Tagged";
deleteheader "subject";`);
  const r = await runSieve(script, message(), env());
  const text = r.modifiedMessage?.toString() ?? '';
  assert.match(text, /^X-Sieve: seen\r\n/);
  assert.doesNotMatch(text, /^Subject:/m);
  const filed = r.actions[0];
  assert.ok(filed?.kind === 'fileinto' && filed.message);
  assert.match(filed.message.toString(), /^Subject:/m);
});

test("recipients' runs share one parse of the message; one run's editheader changes only its own message", async () => {
  const editor = compiled(`require ["editheader", "fileinto", "mime", "imap4flags"];
addheader "X-Sieve" "seen";
addheader :last "X-Last" "1";
deleteheader "subject";
if not exists "subject" { fileinto "Edited"; }
if header :mime :type "content-type" "text" { addflag "mime"; }`);
  const reader = compiled(`require ["fileinto", "imap4flags"];
if allof (header :contains "subject" "hello", not exists ["x-sieve", "x-last"],
          address :domain :is "from" "example.org") { fileinto "Seen"; }`);
  const parsed = new ParsedMessage(Buffer.from(MESSAGE));
  const shared = (): SieveMessage => ({ ...message(), raw: parsed.raw, parsed });
  // A parse of another buffer is not used for this one.
  const other = { ...message(), parsed: new ParsedMessage(Buffer.from('Subject: other\r\n\r\n')) };
  for (const run of [
    () => runSieve(reader, shared(), env()),
    () => runSieve(editor, shared(), env()),
    () => runSieve(reader, shared(), env()),
    () => runSieve(reader, other, env()),
  ]) {
    const r = await run();
    assert.deepEqual(r.errors, []);
  }
  // The other parse was not used: the run read this message's subject.
  const viaOther = await runSieve(reader, other, env());
  assert.deepEqual(
    viaOther.actions.map((a) => a.kind === 'fileinto' && a.mailbox),
    ['Seen'],
  );
  const alone = await runSieve(editor, message(), env());
  const edited = await runSieve(editor, shared(), env());
  assert.deepEqual(edited.actions, alone.actions);
  assert.equal(edited.modifiedMessage?.toString(), alone.modifiedMessage?.toString());
  assert.match(edited.modifiedMessage?.toString() ?? '', /^X-Sieve: seen\r\n(.*\r\n)*X-Last: 1\r\n\r\n/);
  const after = await runSieve(reader, shared(), env());
  assert.deepEqual(
    after.actions.map((a) => a.kind === 'fileinto' && a.mailbox),
    ['Seen'],
  );
  assert.equal(after.modifiedMessage, undefined);
  assert.deepEqual(
    parsed.headers.map((h) => h.name),
    ['From', 'To', 'Subject', 'Message-ID', 'List-Id'],
  );
});

test('compiled scripts survive serialization', async () => {
  const script = compiled(
    'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n' +
      'if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "Junk"; }',
  );
  const again = deserializeCompiled(serializeCompiled(script));
  const spam = MESSAGE.replace('Subject:', 'X-Spam-Score: 7\r\nSubject:');
  const r = await runSieve(again, message(spam), env());
  assert.equal(r.actions[0]?.kind, 'fileinto');
  assert.throws(() => deserializeCompiled('{"format":"other"}'));
});

test('editheader: protected fields, configured protection and the value size limit', async () => {
  const script = compiled(`require "editheader";
deleteheader "received"; deleteheader "x-keep"; deleteheader "subject";
addheader "received" "by sieve"; addheader "x-no" "x"; addheader "subject" "new";`);
  const raw = 'Received: by mx\r\nX-Keep: 1\r\nSubject: old\r\n\r\nbody\r\n';
  const r = await runSieve(
    script,
    message(raw),
    env({ editheaderForbidAdd: ['x-no', 'subject'], editheaderForbidDelete: ['x-keep', 'subject'] }),
  );
  const text = r.modifiedMessage!.toString();
  // Received is never deleted but may be added; Subject cannot be protected
  assert.match(text, /^received: by sieve\r\nReceived: by mx\r\nX-Keep: 1\r\n/im);
  assert.doesNotMatch(text, /x-no|Subject: old/i);
  assert.match(text, /subject: new/i);
  // 2048 bytes by default, at compile time for a constant value and at run time
  const big = `require "editheader"; addheader "x-big" "${'A'.repeat(1500)}";`;
  assert.ok(compileSieve(big).ok);
  assert.equal(compileSieve(big, { maxHeaderBytes: 1024 }).ok, false);
  const runtime = compiled(
    `require ["editheader", "variables"]; set "v" "${'A'.repeat(1500)}"; addheader "x-big" "\${v}";`,
  );
  assert.deepEqual((await runSieve(runtime, message(), env())).errors, []);
  assert.equal((await runSieve(runtime, message(), env({ maxHeaderBytes: 1024 }))).errors.length, 1);
});

test('enotify: at most maxNotifications notify actions; 0 refuses notify at compile time', async () => {
  const notify = (n: number) =>
    `require "enotify";\n${Array.from({ length: n }, (_, i) => `notify "mailto:u${i}@example.net";`).join('\n')}`;
  assert.deepEqual((await runSieve(compiled(notify(10)), message(), env())).errors, []);
  const over = await runSieve(compiled(notify(11)), message(), env());
  assert.match(over.errors[0]?.message ?? '', /number of notify actions exceeds policy limit \(10\)/);
  assert.equal(
    (await runSieve(compiled(notify(3)), message(), env({ maxNotifications: 2 }))).errors.length,
    1,
  );
  const refused = compileSieve(notify(1), { maxNotifications: 0 });
  assert.ok(!refused.ok && /prohibits the use of a notify action/.test(refused.errors[0]!.message));
});

test('global before script filing as spam stops later scripts', async () => {
  const before = compiled(
    'require ["fileinto", "spamtest", "relational", "comparator-i;ascii-numeric"];\n' +
      'if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; }',
  );
  const personal = compiled('discard;');
  const spam = await runSieveScripts([before, personal], message(), env({ spamScore: 8 }));
  assert.deepEqual(
    spam.actions.map((a) => a.kind),
    ['fileinto'],
  );
  const ham = await runSieveScripts([before, personal], message(), env({ spamScore: 1 }));
  assert.deepEqual(
    ham.actions.map((a) => a.kind),
    ['discard'],
  );
});

test('several scripts: the multiscript rules of docs/sieve-language.md', async (t) => {
  const kinds = (r: { actions: { kind: string }[] }) => r.actions.map((a) => a.kind);
  // not from a list: a vacation response is allowed
  const personalMail = MESSAGE.replace('List-Id: <acme.example.org>\r\n', '');
  const run = (scripts: string[], extra: Partial<SieveEnvironment> = {}) =>
    runSieveScripts(scripts.map(compiled), message(personalMail), env(extra));
  await t.test('a personal script that cancels the implicit keep ends the sequence', async () => {
    const r = await run(['require "fileinto"; fileinto "Work";', 'discard;']);
    assert.deepEqual(kinds(r), ['fileinto']);
  });
  await t.test('fileinto :copy in before, discard in after: the copy only', async () => {
    const r = await run(['require ["fileinto", "copy"]; fileinto :copy "Archive";', 'keep;', 'discard;']);
    // keep (explicit) in the personal script lets the after-script run; its discard only ends the
    // implicit keep: the copy and the explicit keep stand
    assert.deepEqual(kinds(r), ['fileinto', 'keep', 'discard']);
    const r2 = await run(['require ["fileinto", "copy"]; fileinto :copy "Archive";', 'discard;']);
    assert.deepEqual(kinds(r2), ['fileinto', 'discard']);
  });
  await t.test('stop in before ends that script only', async () => {
    const r = await run(['stop; discard;', 'require "fileinto"; fileinto "Work";']);
    assert.deepEqual(kinds(r), ['fileinto']);
  });
  await t.test('an explicit keep goes on to the next script, whose implicit keep adds nothing', async () => {
    const r = await run(['keep;', 'require "fileinto"; fileinto "Work";']);
    assert.deepEqual(kinds(r), ['keep', 'fileinto']);
    const r2 = await run(['keep;', 'require "imap4flags"; addflag "$x";']);
    assert.deepEqual(kinds(r2), ['keep']);
  });
  await t.test("a finished script's actions do not conflict with later ones", async () => {
    // reject after a stored copy of an earlier script is allowed (within one script it is an error)
    const r = await run([
      'require ["fileinto", "copy"]; fileinto :copy "Archive";',
      'require "reject"; reject "no";',
    ]);
    assert.deepEqual(kinds(r), ['fileinto', 'reject']);
    assert.deepEqual(r.errors, []);
    const same = await run([
      'require ["fileinto", "copy", "reject"]; fileinto :copy "Archive"; reject "no";',
    ]);
    assert.equal(same.errors.length, 1);
    // a second vacation or reject of a later script is dropped, not an error
    const vacation = 'require "vacation"; vacation "away";';
    const v = await run([vacation, `${vacation} keep;`]);
    assert.deepEqual(kinds(v), ['vacation', 'keep']);
    assert.deepEqual(v.errors, []);
    // a reject after an earlier script's vacation only ends the delivery (no second response)
    const rv = await run([vacation, 'require "reject"; reject "no";']);
    assert.deepEqual(kinds(rv), ['vacation', 'discard']);
  });
  await t.test("a failing script keeps the message; the finished scripts' actions stand", async () => {
    const r = await run(
      [
        'require ["fileinto", "copy"]; fileinto :copy "Archive";',
        'require ["fileinto", "copy"]; fileinto :copy "X"; redirect "a@example.net"; redirect "b@example.net";',
      ],
      { maxRedirects: 1 },
    );
    assert.deepEqual(kinds(r), ['fileinto', 'keep']);
    assert.equal((r.actions[0] as { mailbox: string }).mailbox, 'Archive');
    assert.equal(r.errors.length, 1);
  });
});

test('duplicate: ids are reported for the caller to record, seen ids match', async () => {
  const script = compiled('require "duplicate"; if duplicate { discard; }');
  const first = await runSieve(script, message(), env({ duplicateTracker: { seen: () => false } }));
  assert.equal(first.duplicates.length, 1);
  const id = first.duplicates[0]!.id;
  const second = await runSieve(script, message(), env({ duplicateTracker: { seen: (x) => x === id } }));
  assert.deepEqual(
    second.actions.map((a) => a.kind),
    ['discard'],
  );
});

test('any input compiles to a result or errors, and runs without throwing', async () => {
  const fc = (await import('fast-check')).default;
  const pieces = fc.constantFrom(
    'require ["fileinto","variables","regex","editheader","mime","foreverypart","include","vacation"];',
    'if',
    'elsif',
    'else',
    '{',
    '}',
    '(',
    ')',
    '[',
    ']',
    ',',
    ';',
    'allof',
    'anyof',
    'not',
    'true',
    'header',
    'address',
    'exists',
    'size',
    ':over',
    ':contains',
    ':matches',
    ':regex',
    ':is',
    '"subject"',
    '"*a*"',
    '"(a|b)*c"',
    '"[x"',
    'fileinto',
    'keep',
    'discard',
    'stop',
    'set',
    '"v"',
    '"\u0024{v}\u0024{1}"',
    '42K',
    'text:\n.\n',
    '/* c */',
    '# c\n',
    'addheader',
    'deleteheader',
    'foreverypart',
    'break',
    'vacation',
    ':days',
    '"\\\\"',
    'redirect',
    '"a@b.c"',
    'include',
    ':optional',
  );
  await fc.assert(
    fc.asyncProperty(fc.array(pieces, { maxLength: 40 }), fc.string(), async (parts, noise) => {
      const src = `${parts.join(' ')}${noise}`;
      const r = compileSieve(src, { includeResolver: () => undefined });
      if (!r.ok) {
        assert.ok(r.errors.length > 0);
        for (const e of r.errors) assert.ok(e.line >= 0 && e.column >= 0 && e.message.length > 0);
        return;
      }
      const result = await runSieve(r.script, message(), env({ timeBudgetMs: 200 }));
      assert.ok(result.actions.length > 0);
    }),
    { numRuns: 400 },
  );
});

test('notifications are never sent about automatic messages', async () => {
  const script = compiled('require "enotify"; notify :message "new mail" "mailto:bob@example.net";');
  const normal = await runSieve(script, message(), env());
  assert.deepEqual(
    normal.actions.map((a) => a.kind),
    ['notify', 'keep'],
  );
  const auto = await runSieve(script, message(`Auto-Submitted: auto-replied\r\n${MESSAGE}`), env());
  assert.deepEqual(
    auto.actions.map((a) => a.kind),
    ['keep'],
  );
});

test('time spent in storage lookups does not count against the time budget', async () => {
  const script = compiled(
    'require ["mailbox", "fileinto"]; if mailboxexists "Archive" { fileinto "Archive"; }',
  );
  // Storage that answers only once three budgets of wall time have gone by (yielding to the event
  // loop meanwhile, as real I/O does): the run must still finish within its own budget.
  let waitedMs = 0;
  const slow = async (name: string) => {
    const started = performance.now();
    while (performance.now() - started < 30) await new Promise((resolve) => setImmediate(resolve));
    waitedMs = performance.now() - started;
    return name === 'Archive';
  };
  const r = await runSieve(script, message(), env({ timeBudgetMs: 10, mailboxExists: slow }));
  assert.ok(waitedMs >= 30, 'the lookup outlasted the budget');
  assert.deepEqual(r.errors, []);
  assert.equal(r.actions[0]?.kind, 'fileinto');
});

test('an environment item named like an object property is not defined (a false test, not a failed run)', async () => {
  const script = compiled(
    'require ["environment", "fileinto"];\n' +
      'if environment :contains "constructor" "" { fileinto "Constructor"; }\n' +
      'if environment :matches "toString" "*" { fileinto "ToString"; }\n' +
      'if environment :is "phase" "during" { fileinto "During"; }\n',
  );
  const r = await runSieve(script, message(), env({ environment: { phase: 'during' } }));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.actions.filter((a) => a.kind === 'fileinto').map((a) => (a as { mailbox: string }).mailbox),
    ['During'],
  );
});
