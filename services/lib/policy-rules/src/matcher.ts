import { compileRegex, compileWildcard, execProgram, type Program, RegexError } from '@hermod/sieve/regex';
import { type Matcher, PolicyRuleError } from './schema.js';

/** A compiled Matcher: true and the pattern that matched, or undefined. Bounded by the deadline. */
export type CompiledMatcher = (value: string, deadline: number) => string | undefined;

const domainOf = (value: string) => value.slice(value.lastIndexOf('@') + 1);

/**
 * Compiles a matcher once. glob and regex run on @hermod/sieve's Pike VM (linear in the input
 * times the pattern, never backtracking), so a rule cannot make evaluation explode.
 */
export function compileMatcher(matcher: Matcher, where: string): CompiledMatcher {
  const tests: Array<(value: string, deadline: number) => string | undefined> = [];
  for (const p of matcher.exact ?? []) {
    const want = p.toLowerCase();
    tests.push((v) => (v.toLowerCase() === want ? `is ${p}` : undefined));
  }
  for (const p of matcher.domain ?? []) {
    const want = p.toLowerCase().replace(/^@/, '');
    tests.push((v) => {
      const d = domainOf(v.toLowerCase());
      return d === want || d.endsWith(`.${want}`) ? `domain ${want}` : undefined;
    });
  }
  for (const p of matcher.contains ?? []) {
    const want = p.toLowerCase();
    tests.push((v) => (v.toLowerCase().includes(want) ? `contains "${p}"` : undefined));
  }
  const programs: Array<[string, Program]> = [];
  for (const p of matcher.glob ?? []) programs.push([`glob ${p}`, compileWildcard(p, true)]);
  for (const p of matcher.regex ?? []) {
    try {
      programs.push([`regex ${p}`, compileRegex(p, true)]);
    } catch (error) {
      const reason = error instanceof RegexError ? error.message : String(error);
      throw new PolicyRuleError(`${where}: bad regex ${JSON.stringify(p)}: ${reason}`);
    }
  }
  for (const [label, program] of programs) {
    tests.push((v, deadline) => (execProgram(program, v, deadline) ? label : undefined));
  }
  return (value, deadline) => {
    for (const test of tests) {
      const hit = test(value, deadline);
      if (hit) return hit;
    }
    return undefined;
  };
}
