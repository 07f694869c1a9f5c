/**
 * Runs every .svtest file of the public Sieve conformance corpus (Pigeonhole's test scripts) through the
 * test-only vnd.dovecot.testsuite harness and reports passed / failed / unsupported per folder.
 *
 * The corpus lives outside the repository: SIEVE_CONFORMANCE_DIR, default ../shared/conformance/sieve next
 * to the repository. `conformance-expected.json` records the outcome of each file of the default corpus; a
 * file recorded as passed that no longer passes fails this test (set UPDATE_SIEVE_CONFORMANCE=1 to rewrite the
 * record). Another corpus (SIEVE_CONFORMANCE_DIR, for example further files of the same suite) is run and
 * reported the same way; only the files it shares with the record are held to it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FileOutcome, runSvtest } from './testsuite.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repositoryRoot = path.resolve(here, '../../../..');
/** SIEVE_CONFORMANCE_DIR, else shared/conformance/sieve in the repository's parent or any folder above it. */
function findCorpus(): string | undefined {
  if (process.env.SIEVE_CONFORMANCE_DIR) return process.env.SIEVE_CONFORMANCE_DIR;
  for (let dir = path.dirname(repositoryRoot); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared/conformance/sieve');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}
const corpus = findCorpus();
const expectedFile = path.join(here, 'conformance-expected.json');

function svtests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...svtests(full));
    else if (name.endsWith('.svtest')) out.push(full);
  }
  return out;
}

test('Sieve conformance corpus (vnd.dovecot.testsuite)', { timeout: 300_000 }, async (t) => {
  // The corpus is not ours to commit (LGPL test scripts of another project): where a machine lacks
  // it, say so loudly rather than fail every run there.
  if (corpus === undefined) {
    t.skip(
      'conformance corpus not found: set SIEVE_CONFORMANCE_DIR or place it at ../shared/conformance/sieve',
    );
    return;
  }
  const files = svtests(corpus);
  assert.ok(files.length > 0, 'the corpus holds .svtest files');
  const outcomes: FileOutcome[] = [];
  for (const file of files) outcomes.push(await runSvtest(file));

  const byFolder = new Map<string, Record<FileOutcome['status'], number>>();
  for (const o of outcomes) {
    const folder = path.dirname(path.relative(corpus, o.file)) || '.';
    const row = byFolder.get(folder) ?? { passed: 0, failed: 0, unsupported: 0 };
    row[o.status]++;
    byFolder.set(folder, row);
  }
  for (const [folder, row] of [...byFolder].sort()) {
    t.diagnostic(`${folder}: passed ${row.passed}, failed ${row.failed}, unsupported ${row.unsupported}`);
  }
  // not passed, and passed with a reason (a script of failures/ that failed as expected)
  for (const o of outcomes.filter((x) => x.status !== 'passed' || x.reason)) {
    t.diagnostic(`${o.status}: ${path.relative(corpus, o.file)}: ${(o.reason ?? '').slice(0, 400)}`);
  }
  const total = { passed: 0, failed: 0, unsupported: 0 };
  for (const o of outcomes) total[o.status]++;
  t.diagnostic(`total: passed ${total.passed}, failed ${total.failed}, unsupported ${total.unsupported}`);

  const actual = Object.fromEntries(outcomes.map((o) => [path.relative(corpus, o.file), o.status]));
  const otherCorpus = process.env.SIEVE_CONFORMANCE_DIR !== undefined;
  if (process.env.UPDATE_SIEVE_CONFORMANCE && !otherCorpus) {
    writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
    return;
  }
  const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, string>;
  for (const o of outcomes) {
    if (o.status === 'unsupported') assert.ok(o.reason, `${o.file} is unsupported with a reason`);
  }
  const regressions = Object.entries(expected)
    .filter(([file, status]) => status === 'passed' && actual[file] !== 'passed')
    .filter(([file]) => !otherCorpus || file in actual)
    .map(
      ([file]) =>
        `${file}: ${outcomes.find((o) => path.relative(corpus, o.file) === file)?.reason ?? 'missing'}`,
    );
  assert.deepEqual(regressions, [], 'files that passed before still pass');
});
