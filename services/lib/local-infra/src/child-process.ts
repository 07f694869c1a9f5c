import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { connect } from 'node:net';

/** Spawns a long-running server process, collecting its recent output for error messages. */
export function spawnServer(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let recent = '';
  const keep = (chunk: Buffer) => {
    recent = (recent + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A program that cannot be started (ENOENT, EACCES) exits with a negative code and is reported by
  // whoever waits for it, with this line, instead of an unhandled 'error' event ending the caller.
  child.on('error', (error) => {
    recent += `\ncannot run ${command}: ${error.message}\n`;
  });
  return { child, output: () => recent };
}

/** Resolves once host:port accepts a TCP connection, or rejects after timeoutMs. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  host = '127.0.0.1',
  exited?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited?.()) throw new Error('process exited before listening');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
}

/** Sends signal and waits for the process to exit (SIGKILL after graceMs). */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
