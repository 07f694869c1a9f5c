import { z } from 'zod';

/** One bad environment variable: its name, what was wrong, and the value seen (secrets redacted). */
export interface ConfigIssue {
  variable: string;
  problem: string;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly service: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `${service}: invalid configuration:\n` +
        issues.map((i) => `  - ${i.variable}: ${i.problem}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/**
 * Reads a flat object of environment variables through a zod schema whose keys are the variable names.
 * Every bad value is reported at once, each naming its variable, so an operator fixes them in one pass.
 */
export function loadConfig<S extends z.ZodObject>(
  service: string,
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = source[key];
    raw[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(config)');
    const seen = raw[variable];
    const shown =
      seen === undefined
        ? 'unset'
        : /PASSWORD|SECRET|KEY|TOKEN/i.test(variable)
          ? '"***"'
          : JSON.stringify(seen);
    return { variable, problem: `${issue.message} (got ${shown})` };
  });
  throw new ConfigError(service, issues);
}

/** Reusable field parsers for environment variables (all arrive as strings). */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  string: (fallback: string) => z.string().min(1).default(fallback),
  optionalString: () => z.string().min(1).optional(),
  url: (fallback?: string) => (fallback === undefined ? z.url() : z.url().default(fallback)),
  host: (fallback: string) =>
    z
      .string()
      .regex(/^[A-Za-z0-9.:\-[\]]+$/, 'expected a host name or IP address')
      .default(fallback),
  list: (fallback: string[] = []) =>
    z
      .string()
      .default(fallback.join(','))
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  logLevel: () => z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};
