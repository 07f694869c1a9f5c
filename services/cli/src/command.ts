import type { Pool } from '@hermod/db';
import type { NatsConnection } from 'nats';

/** What a command may use; built once in main.ts, connections opened lazily on first use. */
export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  db(): Promise<Pool>;
  nats(): Promise<NatsConnection>;
  /** host:port of routing's gRPC (ROUTING_GRPC_ADDRESS or the local platform's). */
  routingAddress(): string;
  /** Reads a secret from stdin (piped) or an interactive prompt without echo; never from argv. */
  readSecret(prompt: string): Promise<string>;
}

/** One top-level command group, e.g. `hermod domain ...`. Returns the process exit code. */
export interface CliCommand {
  name: string;
  /** Full help text shown by `hermod <name> --help`. */
  help: string;
  run(args: string[], ctx: CliContext): Promise<number>;
}

/**
 * A command group as the top-level usage lists it; its module is loaded only when it runs, so a
 * command pays only for the libraries it uses (start-up time is most of a CLI command's time).
 */
export interface CliCommandEntry {
  name: string;
  summary: string;
  load(): Promise<CliCommand>;
}

/** A usage mistake: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A missing or unknown subcommand, in the same words for every command. */
export function subcommandError(sub: string | undefined, subcommands: readonly string[]): UsageError {
  return new UsageError(
    sub ? `unknown subcommand '${sub}'` : `missing subcommand (${subcommands.join(', ')})`,
  );
}

/** Splits `--flag value`, `--flag=value` and `--switch` from positional arguments. */
export function parseFlags(
  args: string[],
  spec: { values?: string[]; switches?: string[] },
): { positional: string[]; values: Record<string, string>; switches: Set<string> } {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.switches?.includes(name)) {
      switches.add(name);
    } else if (spec.values?.includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      values[name] = value;
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positional, values, switches };
}
