/**
 * The conformance harness itself (vnd.dovecot.testsuite on top of the engine): scripts written here, run
 * as the corpus files are.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runSvtest } from './testsuite.js';

async function run(script: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hermod-svtest-'));
  try {
    const file = path.join(dir, 'case.svtest');
    writeFileSync(file, script);
    return await runSvtest(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the test mail store keeps the flags a message was stored with (RFC 5232 5: :flags and the internal variable)', async () => {
  const outcome = await run(`require "vnd.dovecot.testsuite";
require "fileinto";
require "mailbox";
require "imap4flags";
require "relational";
require "comparator-i;ascii-numeric";

test "stored flags" {
  setflag "\\\\seen $work";
  fileinto :create "Work";
  fileinto :create :flags "\\\\flagged" "Later";
  if not test_result_execute { test_fail "execute failed"; }
  test_message :folder "Work" 0;
  if not hasflag :is "$work \\\\seen" { test_fail "flags of Work not kept"; }
  if not hasflag :count "eq" :comparator "i;ascii-numeric" "2" { test_fail "Work has other flags"; }
  test_message :folder "Later" 0;
  if not hasflag :is "\\\\flagged" { test_fail "flags of Later not kept"; }
  if hasflag "$work" { test_fail "Later has the internal flags besides :flags"; }
}

test_set "message" text:
From: a@example.org
To: b@example.com
Subject: fresh

Hi
.
;

test "a new message starts without flags" {
  if hasflag :count "ge" :comparator "i;ascii-numeric" "1" { test_fail "flags left from the last message"; }
}
`);
  assert.equal(outcome.status, 'passed', outcome.reason);
});

test('test_config_reload applies a changed variable size limit to the running test script', async () => {
  const outcome = await run(`require "vnd.dovecot.testsuite";
require "variables";

test "limit follows the configuration" {
  test_config_set "sieve_variables_max_value_size" "10";
  test_config_reload :extension "variables";
  set "x" "0123456789abcdef";
  set :length "n" "\${x}";
  if not string "\${n}" "10" { test_fail "cut to \${n}, not 10"; }
  test_config_set "sieve_variables_max_value_size" "12";
  test_config_reload :extension "variables";
  set "x" "0123456789abcdef";
  set :length "n" "\${x}";
  if not string "\${n}" "12" { test_fail "cut to \${n}, not 12"; }
}
`);
  assert.equal(outcome.status, 'passed', outcome.reason);
});

test("the test mail store names mailboxes as Pigeonhole's does: '.' levels under a case-insensitive INBOX", async () => {
  const outcome = await run(`require "vnd.dovecot.testsuite";
require "fileinto";
require "imap4flags";

test_mailbox_create "INBOX.Nonsense";

test "Inbox.Nonsense is INBOX.Nonsense" {
  fileinto :flags "\\\\Seen" "Inbox.Nonsense";
  if not test_result_execute { test_fail "execute failed"; }
  if not test_message :folder "inbox.Nonsense" 0 { test_fail "not stored in INBOX.Nonsense"; }
  if not hasflag :is "\\\\seen" { test_fail "flags not kept"; }
}
`);
  assert.equal(outcome.status, 'passed', outcome.reason);
});
