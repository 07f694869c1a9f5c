import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from './node-service.js';

/**
 * Where the local platform (`npm start`) keeps its data, and the file in which it writes the
 * addresses a client needs (NATS_URL, DATABASE_URL, ROUTING_GRPC_ADDRESS, ...). The platform and
 * the `hermod` CLI both find them here, from the same variables: HERMOD_DATA_DIR, else .data/ in
 * the repository for the default copy and .data-<offset>/ for a copy started with HERMOD_PORT_OFFSET.
 */
export const LOCAL_ENV_FILE = 'local.env';

/** Offsets are whole thousands: no port of one copy is then a port of another (see services.ts). */
export const PORT_OFFSET_STEP = 1_000;
export const MAX_PORT_OFFSET = 11_000;

export class PortOffsetError extends Error {
  constructor(value: string) {
    super(
      `HERMOD_PORT_OFFSET=${value}: expected a multiple of ${PORT_OFFSET_STEP} from 0 to ${MAX_PORT_OFFSET} ` +
        '(e.g. 1000 for a second copy)',
    );
    this.name = 'PortOffsetError';
  }
}

type Env = Record<string, string | undefined>;

/** HERMOD_PORT_OFFSET (0 when unset or empty); anything that is not a whole thousand in range is refused. */
export function localPortOffset(env: Env = process.env): number {
  const value = env.HERMOD_PORT_OFFSET?.trim();
  if (!value) return 0;
  const offset = Number(value);
  if (!/^\d+$/.test(value) || offset % PORT_OFFSET_STEP !== 0 || offset > MAX_PORT_OFFSET)
    throw new PortOffsetError(value);
  return offset;
}

export function localDataDir(env: Env = process.env): string {
  if (env.HERMOD_DATA_DIR) return env.HERMOD_DATA_DIR;
  const offset = localPortOffset(env);
  return join(repositoryRoot, offset === 0 ? '.data' : `.data-${offset}`);
}

export function formatLocalEnv(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/** The variables of a running local platform, or undefined when its file is not there. */
export function readLocalEnv(dataDir: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, LOCAL_ENV_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
