import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { componentOf, cpuByComponent, cpuReaderOf } from './process-cpu.js';

test('only processes below the root count: a child of this process does, and not under another root', async () => {
  // A stand-in for a service (its command line names services/<name>/src/main.ts) that spins for
  // 300 ms of CPU, then says so and waits for stdin to close.
  const child = spawn(
    process.execPath,
    [
      '-e',
      'const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < 300_000_000n); console.log("spun"); process.stdin.resume();',
      'services/bench-probe/src/main.ts',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    await once(child.stdout!, 'data');
    assert.ok((cpuByComponent().get('bench-probe') ?? 0) > 0, 'the child counts for this process');
    assert.equal(cpuByComponent(child.pid).get('bench-probe'), undefined, 'not below another root');
    // The reader that finds the processes once reads the same.
    assert.ok(cpuReaderOf('bench-probe')() > 0, 'the reader finds the child');
    assert.equal(cpuReaderOf('bench-probe', child.pid)(), 0, 'the reader: not below another root');
  } finally {
    child.stdin!.end();
    await once(child, 'exit');
  }
});

test('the validating resolver and the other peers are components of their own', () => {
  assert.equal(componentOf(['/usr/sbin/unbound', '-d', '-c', 'unbound.conf']), 'unbound');
  assert.equal(componentOf(['/usr/sbin/clamd', '--foreground']), 'clamd');
  assert.equal(componentOf(['/usr/bin/node', '/src/dist/bench/imap.js']), 'imap');
  // A bench's bundles (bench/lib/bundled-service.ts), with node's options before the file.
  assert.equal(
    componentOf(['/usr/bin/node', '--enable-source-maps', '--cpu-prof', '/src/dist/bench/outbound-mta.js']),
    'outbound-mta',
  );
  assert.equal(componentOf(['dovecot/imap']), 'dovecot');
  assert.equal(componentOf(['node', '--import', 'tsx', 'bench/outbound-dane.ts']), undefined);
});
