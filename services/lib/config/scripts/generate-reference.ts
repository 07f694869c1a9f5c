// Writes docs/configuration.md from the one source of every service's configuration: its zod schema
// in src/config.ts (names, defaults, bounds) and the comment written above each field (meaning).
// `--check` fails when the checked-in document is stale.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const target = join(root, 'docs/configuration.md');

interface Field {
  name: string;
  defaultValue: string;
  allowed: string;
  description: string;
}

/** The comment lines directly above `NAME:` in the source, joined. */
function commentFor(source: string, name: string): string {
  const lines = source.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^\\s*${name}\\s*:`).test(l));
  if (at < 0) return '';
  const out: string[] = [];
  for (let i = at - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line.startsWith('//') || line.startsWith('*') || line.startsWith('/**'))
      out.unshift(line.replace(/^\/\*\*|\*\/$|^\*|^\/\//g, '').trim());
    else break;
  }
  return out.filter(Boolean).join(' ').replace(/\*\/$/, '').trim();
}

function describe(schema: Record<string, unknown>): { defaultValue: string; allowed: string } {
  const d = schema.default;
  const defaultValue = d === undefined ? '(required)' : d === '' ? '(empty)' : `\`${String(d)}\``;
  const parts: string[] = [];
  if (Array.isArray(schema.enum))
    parts.push((schema.enum as unknown[]).map((v) => `\`${String(v)}\``).join(', '));
  if (schema.minimum !== undefined || schema.maximum !== undefined)
    parts.push(`${schema.minimum ?? ''}..${schema.maximum ?? ''}`);
  if (typeof schema.pattern === 'string' && parts.length === 0) parts.push('pattern');
  return { defaultValue, allowed: parts.join('; ') };
}

/** Sources of variable groups several services spread into their schemas (their comments explain them). */
const sharedSources = [
  'services/lib/service-runtime/src/common-env.ts',
  'services/lib/content-scan/src/env.ts',
  'services/lib/policy-rules/src/env.ts',
].map((file) => readFileSync(join(root, file), 'utf8'));

async function serviceSections(): Promise<string[]> {
  const configs = [
    ...readdirSync(join(root, 'services'))
      .filter((name) => name !== 'lib')
      .map((name) => ({ name, file: join(root, 'services', name, 'src/config.ts') })),
    { name: 'operator', file: join(root, 'operator/src/config.ts') },
  ].filter(({ file }) => {
    try {
      readFileSync(file);
      return true;
    } catch {
      return false;
    }
  });
  const sections: string[] = [];
  for (const { name, file } of configs.sort((a, b) => a.name.localeCompare(b.name))) {
    const source = readFileSync(file, 'utf8');
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const schema = Object.values(mod).find(
      (v): v is z.ZodObject =>
        v instanceof z.ZodObject && Object.keys(v.shape).some((k) => /^[A-Z][A-Z0-9_]+$/.test(k)),
    );
    if (!schema) continue;
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, Record<string, unknown>>;
    };
    const fields: Field[] = Object.keys(schema.shape).map((key) => ({
      name: key,
      ...describe(json.properties?.[key] ?? {}),
      description: [source, ...sharedSources].map((s) => commentFor(s, key)).find(Boolean) ?? '',
    }));
    sections.push(
      [
        `## ${name}`,
        '',
        '| variable | default | allowed | meaning |',
        '|---|---|---|---|',
        ...fields.map(
          (f) =>
            `| \`${f.name}\` | ${f.defaultValue} | ${f.allowed} | ${f.description.replace(/\|/g, '\\|')} |`,
        ),
        '',
      ].join('\n'),
    );
  }
  return sections;
}

const document = [
  '# Configuration reference',
  '',
  "Generated from each service's `src/config.ts` by `npm run generate`; do not edit by hand.",
  'Every service validates its variables at start-up and names each bad one in a single error',
  '(exit code 2). Empty values count as unset. Variables shared by all services: `LOG_LEVEL`,',
  '`OPS_HOST`, `OPS_PORT` (health, readiness and metrics), `NATS_URL`, `NATS_STREAM_REPLICAS`,',
  '`SHUTDOWN_GRACE_MS`. Tracing is configured with the standard `OTEL_EXPORTER_OTLP_ENDPOINT`',
  '(spans are recorded only when it is set; trace ids flow either way), `OTEL_BSP_SCHEDULE_DELAY` and',
  '`OTEL_SERVICE_NAME` (default `hermod-<service>`).',
  '',
  ...(await serviceSections()),
].join('\n');

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== document) {
    console.error('docs/configuration.md is stale: run `npm run generate` and commit it');
    process.exit(1);
  }
  console.log('docs/configuration.md is up to date');
} else {
  writeFileSync(target, document);
  console.log('wrote docs/configuration.md');
}
process.exit(0);
