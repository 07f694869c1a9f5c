import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDirectory } from '@hermod/local-infra';
import { requireTool, run } from './tools.js';

/** RFC 7489 appendix C's schema (see the file's comment for the two changes that make it usable). */
export const rfc7489Schema = fileURLToPath(
  new URL('../../services/lib/dmarc-reports/test/rfc7489-appendix-c.xsd', import.meta.url),
);

/** parsedmarc from PyPI, pinned: the independent parser our DMARC aggregate reports are checked with. */
export const PARSEDMARC_VERSION = '11.1.0';

/**
 * A Python with parsedmarc installed: a venv cached outside the work tree
 * (<HERMOD_CACHE_DIR, ~/.cache/hermod>/venv-parsedmarc-<version>), created with pip on first use (built aside and
 * renamed, so a failed install leaves nothing half-made).
 */
export async function parsedmarcPython(): Promise<string> {
  const venv = join(cacheDirectory(), `venv-parsedmarc-${PARSEDMARC_VERSION}`);
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return python;
  await requireTool('python3', 'apt-get install python3 python3-venv (.ci/install-prerequisites.sh)');
  const building = `${venv}.building-${process.pid}`;
  await mkdir(cacheDirectory(), { recursive: true });
  await rm(building, { recursive: true, force: true });
  const steps: Array<[string, string[]]> = [
    ['python3', ['-m', 'venv', building]],
    [join(building, 'bin', 'pip'), ['install', '--quiet', `parsedmarc==${PARSEDMARC_VERSION}`]],
  ];
  for (const [command, args] of steps) {
    const result = await run(command, args, { timeoutMs: 600_000 });
    if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr || result.stdout}`);
  }
  if (!existsSync(python)) await rename(building, venv);
  else await rm(building, { recursive: true, force: true });
  return python;
}

// Offline: no reverse DNS, no downloaded maps; the report as parsedmarc reads it, as JSON.
const parseScript = `import json, sys
import parsedmarc
report = parsedmarc.parse_aggregate_report_xml(sys.stdin.buffer.read(), offline=True, always_use_local_files=True)
json.dump(report, sys.stdout, default=str)`;

// biome-ignore lint/suspicious/noExplicitAny: parsedmarc's report is a nested dict checked field by field
export type ParsedmarcReport = any;

/** Parses an aggregate report XML with parsedmarc; throws with parsedmarc's message when it refuses it. */
export async function parseWithParsedmarc(xml: string): Promise<ParsedmarcReport> {
  const result = await run(await parsedmarcPython(), ['-c', parseScript], { input: xml, timeoutMs: 120_000 });
  if (result.code !== 0)
    throw new Error(`parsedmarc refused the report: ${result.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(result.stdout);
}

/** Validates an XML document with xmllint against a schema file; the errors, empty when valid. */
export async function xmllintErrors(xml: string, schemaFile: string): Promise<string[]> {
  await requireTool('xmllint', 'apt-get install libxml2-utils (.ci/install-prerequisites.sh)');
  const result = await run('xmllint', ['--noout', '--nonet', '--schema', schemaFile, '-'], { input: xml });
  if (result.code === 0) return [];
  return result.stderr
    .split('\n')
    .filter((l) => l.includes('error'))
    .map((l) => l.replace(/^-:/, 'line '));
}
