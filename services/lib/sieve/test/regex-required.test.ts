// The literal prefilter of compiled regexes: which runs are required, and that refusing inputs
// without them never changes a result of the VM (random patterns' inputs, both case modes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileRegex, compileWildcard, execProgram, type Program } from '../src/regex.js';

const never = Number.POSITIVE_INFINITY;

/**
 * Over random inputs made of `parts`, each pattern compiled by `compile` gives what the program
 * without its `without` shortcuts (the VM alone, or without the prefilter) gives.
 */
function agreesWithout(
  without: ReadonlyArray<'required' | 'stars'>,
  compile: (pattern: string, icase: boolean) => Program,
  patterns: string[],
  parts: string[],
  maxLength: number,
  numRuns: number,
): void {
  fc.assert(
    fc.property(
      fc.constantFrom(...patterns),
      fc.boolean(),
      fc.array(fc.constantFrom(...parts), { maxLength }).map((list) => list.join('')),
      (pattern, icase, input) => {
        const program = compile(pattern, icase);
        const plain = { ...program };
        for (const key of without) delete plain[key];
        assert.deepEqual(execProgram(program, input, never), execProgram(plain, input, never));
      },
    ),
    { numRuns },
  );
}

test('the longest run every match contains; none through alternatives or repetitions', () => {
  assert.equal(compileRegex('wire (the )?transfer (now|today)', true).required, 'transfer ');
  assert.equal(compileRegex('Payment DUE', true).required, 'payment due');
  assert.equal(compileRegex('Payment DUE', false).required, 'Payment DUE');
  assert.equal(compileRegex('(ab|cd)x*', false).required, undefined);
  assert.equal(compileRegex('[0-9]+', false).required, undefined);
  assert.equal(compileRegex('Énorme', true).required, undefined);
});

test('with or without the prefilter, the same result', () => {
  const patterns = ['wire (the )?transfer (now|today)', 'a.c', 'in(voice|v)', 'x[0-9]+y', '^ab', 'ab$', 'É'];
  const parts = [...'abcxyzWIRE 01 É\u0130é\u212a'.split(''), 'wire ', 'transfer ', 'now'];
  agreesWithout(['required'], compileRegex, patterns, parts, 40, 3000);
});

test(':matches patterns: the longest literal run is required, and refusing without it changes no result', () => {
  assert.equal(compileWildcard('*NewsLetter*', true).required, 'newsletter');
  assert.equal(compileWildcard('a?bc*d', false).required, 'bc');
  assert.equal(compileWildcard('x\\*yz*', false).required, 'x*yz');
  assert.equal(compileWildcard('*?*', true).required, undefined);
  assert.equal(compileWildcard('*Énorme*', true).required, undefined);
  const patterns = ['*newsletter*', 'a?b*', '*ab*c?', 'x\\*y*', '*É*', 'WIRE*now'];
  const parts = [...'abcxyzWIRE 01 É\u0130é\u212a*'.split(''), 'newsletter', 'NEWS', 'now'];
  agreesWithout(['required'], compileWildcard, patterns, parts, 30, 3000);
});

test(":matches patterns of literals and stars: indexOf gives the VM's captures", () => {
  assert.deepEqual(compileWildcard('*News*Letter', true).stars, ['', 'news', 'letter']);
  assert.equal(compileWildcard('a?b*', false).stars, undefined);
  assert.deepEqual(compileWildcard('x\\*y**', false).stars, ['x*y', '', '']);
  const patterns = [
    '*newsletter*',
    '*ab*c',
    'a**b',
    'x\\*y*',
    '*É*',
    'WIRE*now',
    '*',
    '**',
    'ab',
    '*a*a*',
    'A*',
    '*\u212a*',
  ];
  for (const pattern of patterns) assert.ok(compileWildcard(pattern, true).stars, pattern);
  const parts = [...'abcxyzWIRE 01 É\u0130é\u212a*'.split(''), 'newsletter', 'NEWS', 'now', '\u{1F600}'];
  agreesWithout(['stars', 'required'], compileWildcard, patterns, parts, 30, 5000);
});
