// The `hermod` command as a newcomer first meets it, with no platform or a stopped one: every
// command's --help, a missing or unknown subcommand named the same way by every command (exit 2,
// before any connection is tried), and a platform that is down (its local.env still there, as
// after kill -9) reported within seconds, naming the address, for each kind of connection.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { freePort, repositoryRoot } from '@hermod/local-infra';
import { run, testWorkdir } from '@hermod/test/harness';
import { commands } from '../../../services/cli/src/commands/index.js';

let noPlatformDir = '';

const hermodCli = (args: string[], dataDir = noPlatformDir) =>
  run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_DATA_DIR: dataDir,
      HERMOD_PORT_OFFSET: '',
      NATS_URL: '',
      DATABASE_URL: '',
      ROUTING_GRPC_ADDRESS: '',
    },
    timeoutMs: 30_000,
  });

before(async () => {
  noPlatformDir = await testWorkdir('cli-no-platform');
});

test('hermod alone prints its usage to stderr and exits 2; --help prints it to stdout and exits 0', async () => {
  const bare = await hermodCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /^Usage: hermod <command>/m);
  const help = await hermodCli(['--help']);
  assert.equal(help.code, 0);
  assert.equal(help.stderr, '');
  for (const command of commands) assert.match(help.stdout, new RegExp(`^  ${command.name} `, 'm'));
});

test('every command: --help exits 0; a missing or unknown subcommand exits 2 naming it, before connecting', async () => {
  for (const { name } of commands) {
    const help = await hermodCli([name, '--help']);
    assert.equal(help.code, 0, `${name} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^hermod ${name}`), `${name} --help`);

    const missing = await hermodCli([name]);
    assert.equal(missing.code, 2, `hermod ${name}: ${missing.stderr}`);
    assert.match(
      missing.stderr,
      new RegExp(`^hermod ${name}: missing subcommand \\([a-z-]+(, [a-z-]+)*\\)$`, 'm'),
    );
    assert.match(missing.stderr, new RegExp(`Run 'hermod ${name} --help' for usage`));

    // With the arguments a real subcommand would take: the name is what is wrong, not a connection.
    const unknown = await hermodCli([name, 'no-such-thing', 'ann@example.test']);
    assert.equal(unknown.code, 2, `hermod ${name} no-such-thing: ${unknown.stderr}`);
    assert.match(unknown.stderr, new RegExp(`^hermod ${name}: unknown subcommand 'no-such-thing'$`, 'm'));
  }
});

test('a platform that is down (its local.env left behind) is reported within seconds for NATS, PostgreSQL and routing', async () => {
  const dataDir = await testWorkdir('cli-platform-down');
  const [nats, pg, grpc] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dataDir, 'local.env'),
    `NATS_URL=nats://127.0.0.1:${nats}\nDATABASE_URL=postgres://hermod@127.0.0.1:${pg}/hermod\n` +
      `ROUTING_GRPC_ADDRESS=127.0.0.1:${grpc}\n`,
  );
  for (const [args, address] of [
    [['domain', 'list'], `nats://127.0.0.1:${nats}`],
    [['user', 'list'], `127.0.0.1:${pg}`],
    [['route', 'explain', 'ann@example.test'], `127.0.0.1:${grpc}`],
  ] as const) {
    const started = Date.now();
    const result = await hermodCli([...args], dataDir);
    const elapsed = Date.now() - started;
    assert.equal(result.code, 1, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.ok(result.stderr.includes(address), `hermod ${args.join(' ')} names ${address}: ${result.stderr}`);
    assert.ok(elapsed < 10_000, `hermod ${args.join(' ')} took ${elapsed} ms`);
  }
});
