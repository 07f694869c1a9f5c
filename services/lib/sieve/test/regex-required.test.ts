// The literal prefilter of compiled regexes: which runs are required, and that refusing inputs
// without them never changes a result of the VM (random patterns' inputs, both case modes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileRegex, compileWildcard, execProgram } from '../src/regex.js';

const never = Number.POSITIVE_INFINITY;

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
  const alphabet = fc.constantFrom(...'abcxyzWIRE 01 É\u0130é\u212a'.split(''), 'wire ', 'transfer ', 'now');
  fc.assert(
    fc.property(
      fc.constantFrom(...patterns),
      fc.boolean(),
      fc.array(alphabet, { maxLength: 40 }).map((parts) => parts.join('')),
      (pattern, icase, input) => {
        const program = compileRegex(pattern, icase);
        const { required: _, ...plain } = program;
        assert.deepEqual(execProgram(program, input, never), execProgram(plain, input, never));
      },
    ),
    { numRuns: 3000 },
  );
});

test(':matches patterns: the longest literal run is required, and refusing without it changes no result', () => {
  assert.equal(compileWildcard('*NewsLetter*', true).required, 'newsletter');
  assert.equal(compileWildcard('a?bc*d', false).required, 'bc');
  assert.equal(compileWildcard('x\\*yz*', false).required, 'x*yz');
  assert.equal(compileWildcard('*?*', true).required, undefined);
  assert.equal(compileWildcard('*Énorme*', true).required, undefined);
  const patterns = ['*newsletter*', 'a?b*', '*ab*c?', 'x\\*y*', '*É*', 'WIRE*now'];
  const alphabet = fc.constantFrom(...'abcxyzWIRE 01 É\u0130é\u212a*'.split(''), 'newsletter', 'NEWS', 'now');
  fc.assert(
    fc.property(
      fc.constantFrom(...patterns),
      fc.boolean(),
      fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join('')),
      (pattern, icase, input) => {
        const program = compileWildcard(pattern, icase);
        const { required: _, ...plain } = program;
        assert.deepEqual(execProgram(program, input, never), execProgram(plain, input, never));
      },
    ),
    { numRuns: 3000 },
  );
});
