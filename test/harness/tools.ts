import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Fails with a message naming the missing tool and how to get it. Tests call this instead of
 * skipping, so a machine without the tool shows a red test, not silent lost coverage.
 */
export async function requireTool(command: string, install: string): Promise<void> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${command}`]);
  } catch {
    throw new Error(`required test tool '${command}' is not installed: ${install}`);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with optional stdin, never throwing on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe: EPIPE on stdin is not an
    // error of ours (its exit code says how it went), and unhandled it would crash the caller.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs sieve-connect against a ManageSieve port on 127.0.0.1 over STARTTLS (certificate not
 * verified), the password handed over on file descriptor 3 so it never appears in argv.
 */
export function sieveConnect(options: {
  port: number;
  user: string;
  password: string;
  args: string[];
  input?: string;
}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sieve-connect',
      [
        '--server',
        '127.0.0.1',
        '--port',
        String(options.port),
        '--user',
        options.user,
        '--passwordfd',
        '3',
        '--notlsverify',
        '--authmech',
        'PLAIN',
        ...options.args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    (child.stdio[3] as NodeJS.WritableStream).end(`${options.password}\n`);
    child.stdin!.end(options.input ?? '');
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}
