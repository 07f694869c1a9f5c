// `npm start` in a real terminal, stopped with Ctrl-C as a newcomer stops it: the terminal sends SIGINT
// to the whole foreground process group (npm, the platform, nats-server and the services at once,
// not to PostgreSQL, which runs in a group of its own). The shell prompt must come back with exit 0
// after the platform said it stopped, and nothing of the platform may be left running.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { repositoryRoot } from '@hermod/local-infra';
import {
  eventually,
  freePortOffset,
  processesUsing,
  requireTool,
  run,
  testWorkdir,
} from '@hermod/test/harness';

const socket = `hermod-test-${process.pid}`;
let dataDir = '';
let offset = 0;

const tmux = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  run('tmux', ['-L', socket, ...args], { env, timeoutMs: 10_000 });
const screen = async () => (await tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 'platform'])).stdout;

before(async () => {
  await requireTool('tmux', 'apt-get install tmux');
  dataDir = await testWorkdir('terminal');
  offset = await freePortOffset();
  const env = {
    ...process.env,
    HERMOD_DATA_DIR: dataDir,
    HERMOD_PORT_OFFSET: String(offset),
    LOG_LEVEL: 'warn',
    DATABASE_URL: '',
    NATS_URL: '',
    ROUTING_GRPC_ADDRESS: '',
  };
  const started = await tmux(
    [
      'new-session',
      '-d',
      '-s',
      'platform',
      '-x',
      '200',
      '-y',
      '50',
      '-c',
      repositoryRoot,
      'bash --norc --noprofile',
    ],
    env,
  );
  assert.equal(started.code, 0, started.stderr);
});

after(async () => {
  await tmux(['kill-server']);
});

test('Ctrl-C in the terminal stops npm start: prompt back with exit 0, nothing left running', async () => {
  await tmux(['send-keys', '-t', 'platform', 'npm start; echo "EXIT=$?"', 'Enter']);
  await eventually(
    'the platform running in the terminal',
    async () => {
      const text = await screen();
      if (/\[platform\] (cannot start|failed)/.test(text)) throw new Error(text);
      return text.includes('Ctrl-C stops everything.') ? true : undefined;
    },
    240_000,
  );
  assert.ok(
    processesUsing(dataDir).some((p) => p.includes('nats-server')),
    'nats-server runs',
  );

  await tmux(['send-keys', '-t', 'platform', 'C-c']);
  const text = await eventually(
    'the shell prompt back after Ctrl-C',
    async () => {
      const now = await screen();
      return /^EXIT=\d+/m.test(now) ? now : undefined;
    },
    60_000,
  );
  assert.match(text, /^EXIT=0$/m);
  const stopped = text.indexOf('[platform] stopped');
  assert.ok(stopped >= 0 && stopped < text.search(/^EXIT=/m), text.slice(-2000));
  // The terminal and its shell carry the variables too; they are the test's, not the platform's.
  assert.deepEqual(
    processesUsing(dataDir).filter((p) => !/: (tmux|bash --norc)/.test(p)),
    [],
  );
});
