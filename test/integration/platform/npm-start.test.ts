// `npm start` and the `hermod` CLI as a user runs them: the platform comes up on one machine, the
// CLI adds a domain and a user, a message submitted with swaks is readable over IMAP, Ctrl-C stops
// everything, and after a restart the data is still there.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { repositoryRoot } from '@hermod/local-infra';
import {
  eventually,
  freePortOffset,
  requireTool,
  run,
  runnableBlocks,
  testWorkdir,
} from '@hermod/test/harness';

let offset = 0;
let dataDir = '';
let platform: ChildProcess | undefined;
let output = '';

function startPlatform(): Promise<void> {
  output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/platform/src/main.ts'], {
    cwd: repositoryRoot,
    env: { ...process.env, HERMOD_DATA_DIR: dataDir, HERMOD_PORT_OFFSET: String(offset), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  platform = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`platform did not come up:\n${output.slice(-4000)}`)),
      240_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Hermod is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`platform exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

async function stopPlatform(): Promise<number | null> {
  const child = platform;
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  child.removeAllListeners('exit');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

const hermod = (args: string[], input?: string) =>
  run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_DATA_DIR: dataDir,
      DATABASE_URL: '',
      NATS_URL: '',
      ROUTING_GRPC_ADDRESS: '',
    },
    ...(input !== undefined ? { input } : {}),
    timeoutMs: 60_000,
  });

const imapCount = () => `
import imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", ${2993 + offset}, ssl_context=ctx)
m.login("ann@platform.test", "ann-password-1")
typ, data = m.select("INBOX", readonly=True)
typ, msg = m.fetch(data[0].decode(), "(BODY.PEEK[TEXT])") if int(data[0]) > 0 else ("OK", [])
print(int(data[0]), msg[0][1].decode().strip() if msg else "")
m.logout()
`;

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  await requireTool('python3', 'apt-get install python3');
  dataDir = await testWorkdir('platform');
  offset = await freePortOffset();
  await startPlatform();
});

after(async () => {
  await stopPlatform();
});

test('npm start prints every listener and its ports', () => {
  assert.match(output, new RegExp(`submission ${2587 + offset} \\(STARTTLS\\)`));
  assert.match(output, new RegExp(`IMAPS ${2993 + offset}`));
  assert.match(output, new RegExp(`ManageSieve ${4190 + offset} \\(STARTTLS\\)`));
  assert.match(output, /nats-server nats:\/\/127\.0\.0\.1:/);
  assert.match(output, /PostgreSQL \(embedded\)/);
});

test('the CLI refuses bad input with a clear message and a usage exit code', async () => {
  const badDomain = await hermod(['domain', 'add', 'not_a_domain']);
  assert.equal(badDomain.code, 2);
  assert.match(badDomain.stderr, /'not_a_domain' is not a valid domain name/);
  const badMode = await hermod(['domain', 'add', 'x.test', '--mode', 'sideways']);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /--mode must be local, remote, backup or auto/);
  const passwordOnArgv = await hermod(['user', 'add', 'ann@platform.test', '--password', 'secret']);
  assert.equal(passwordOnArgv.code, 2);
  assert.match(passwordOnArgv.stderr, /unknown option --password/);
  const weak = await hermod(['user', 'add', 'weak@platform.test', '--force'], 'short\n');
  assert.equal(weak.code, 2);
  assert.match(weak.stderr, /at least 8 characters/);
  const help = await hermod(['user', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /hermod user add <address>/);
});

test('hermod domain and user manage live configuration and accounts', async () => {
  const add = await hermod(['domain', 'add', 'platform.test']);
  assert.equal(add.code, 0, add.stderr);
  const list = await hermod(['domain', 'list']);
  assert.match(list.stdout, /^platform\.test\s+local\s/m);
  const user = await hermod(['user', 'add', 'ann@platform.test'], 'ann-password-1\n');
  assert.equal(user.code, 0, user.stderr);
  const again = await hermod(['user', 'add', 'ann@platform.test'], 'ann-password-1\n');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
  const users = await hermod(['user', 'list', '--domain', 'platform.test']);
  assert.match(users.stdout, /^ann@platform\.test\s/m);
});

test("every doc's runnable shell blocks run as written against the platform", async () => {
  // README first, then the other documents in path order: a block may use the quick start's
  // example.test domain and me@example.test account.
  const blocks = await runnableBlocks('local');
  assert.ok(
    blocks.some((b) => b.file === 'README.md'),
    'README marks its quick start as runnable',
  );
  for (const block of blocks) {
    // The docs show the default ports; this platform runs with an offset.
    const script = block.body.replace(/\b(2587|2465|2525|2143|2993)\b/g, (port) =>
      String(Number(port) + offset),
    );
    const result = await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: repositoryRoot,
      env: {
        ...process.env,
        HERMOD_DATA_DIR: dataDir,
        HERMOD_PORT_OFFSET: String(offset),
        DATABASE_URL: '',
        NATS_URL: '',
        ROUTING_GRPC_ADDRESS: '',
      },
      timeoutMs: 120_000,
    });
    assert.equal(result.code, 0, `${block.file}:${block.line}\n${script}\n${result.stdout}${result.stderr}`);
  }
});

test('a message submitted to the local platform is readable over IMAP, and survives a restart', async () => {
  const sent = await run(
    'swaks',
    [
      '--server',
      '127.0.0.1',
      '--port',
      String(2587 + offset),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'ann@platform.test',
      '--auth-password',
      'ann-password-1',
      '--from',
      'ann@platform.test',
      '--to',
      'ann@platform.test',
      '--body',
      'hello from npm start',
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(sent.code, 0, sent.stdout);
  const seen = await eventually(
    'the submitted message in the INBOX',
    async () => {
      const count = (await run('python3', ['-c', imapCount()], { timeoutMs: 30_000 })).stdout.trim();
      return count.startsWith('1 ') ? count : undefined;
    },
    60_000,
  );
  assert.equal(seen, '1 hello from npm start');

  assert.equal(await stopPlatform(), 0);
  assert.match(output, /\[platform\] stopped/);
  await startPlatform();
  const afterRestart = await run('python3', ['-c', imapCount()], { timeoutMs: 30_000 });
  assert.equal(afterRestart.stdout.trim(), '1 hello from npm start');
  const domains = await hermod(['domain', 'list']);
  assert.match(domains.stdout, /^platform\.test\s+local\s/m);
});
