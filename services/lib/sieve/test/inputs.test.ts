import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ALL_SCRIPT_INPUTS,
  compiledInputs,
  compileSieve,
  deserializeCompiled,
  runSieve,
  SCRIPT_INPUTS,
  serializeCompiled,
} from '../src/index.js';

const { header, message, envelope, mailboxes, spam } = SCRIPT_INPUTS;

function inputsOf(source: string, includes: Record<string, string> = {}): number {
  const r = compileSieve(source, { includeResolver: (name) => includes[name] });
  if (!r.ok) assert.fail(`compile failed: ${JSON.stringify(r.errors)}`);
  // What delivery sees: the stored form.
  return compiledInputs(deserializeCompiled(serializeCompiled(r.script)));
}

test('a script reads only what its commands and tests look at', () => {
  assert.equal(inputsOf('keep;'), 0);
  assert.equal(
    inputsOf(`require ["fileinto", "special-use", "spamtest", "relational", "comparator-i;ascii-numeric"];
      if spamtest :value "ge" :comparator "i;ascii-numeric" "10" { fileinto :specialuse "\\\\Junk" "Junk"; }`),
    spam | mailboxes,
  );
  // The verdict is the host's (spamScore): no header section of its own.
  assert.equal(
    inputsOf(`require ["spamtestplus", "relational", "comparator-i;ascii-numeric"];
      if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "50" { discard; }`),
    spam,
  );
  assert.equal(
    inputsOf(`require ["fileinto", "envelope", "subaddress", "imap4flags"];
      if header :contains "subject" "x" { addflag "\\\\Flagged"; }
      if envelope :detail "to" "shop" { fileinto "Shopping"; }
      if size :over 5M { discard; }`),
    header | envelope | mailboxes,
  );
  assert.equal(inputsOf('if size :over 1K { discard; }'), 0);
  assert.equal(inputsOf('require "body"; if body :contains "x" { discard; }'), message);
  assert.equal(inputsOf('redirect "a@example.org";') & (message | envelope), message | envelope);
  assert.equal(inputsOf('require "editheader"; addheader "X-A" "1";'), message);
  assert.equal(inputsOf('require "vacation"; vacation "away";'), header | envelope);
  assert.equal(
    inputsOf('require ["mime", "foreverypart"]; if header :mime :anychild "content-type" "x" { stop; }'),
    message | header,
  );
});

test('included scripts count, and a command the table does not know reads everything', () => {
  assert.equal(
    inputsOf('require "include"; include "b";', { b: 'require "body"; if body :contains "x" { stop; }' }),
    message,
  );
  assert.equal(inputsOf('require "ihave"; if ihave "body" { stop; }'), ALL_SCRIPT_INPUTS);
});

test('a form compiled before inputs were recorded reads everything; the stored text starts with them', () => {
  const r = compileSieve('keep;');
  assert.ok(r.ok);
  const { inputs: _inputs, ...old } = r.script;
  assert.equal(compiledInputs(deserializeCompiled(JSON.stringify(old))), ALL_SCRIPT_INPUTS);
  assert.match(serializeCompiled(r.script), /^\{"format":"hermod-sieve\/1","inputs":0,/);
});

test('size: the size the host gives when raw holds the header only', async () => {
  const r = compileSieve('if size :over 100 { discard; }');
  assert.ok(r.ok);
  const raw = Buffer.from('Subject: x\r\n\r\n');
  const env = { now: new Date(), domain: 'example.com', subaddressSeparator: '+' };
  const small = await runSieve(r.script, { raw, envelopeFrom: '', envelopeTo: 'a@example.com' }, env);
  assert.equal(small.actions[0]?.kind, 'keep');
  const large = await runSieve(
    r.script,
    { raw, size: 5000, envelopeFrom: '', envelopeTo: 'a@example.com' },
    env,
  );
  assert.equal(large.actions[0]?.kind, 'discard');
});
