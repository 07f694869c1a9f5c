// Debian's rspamd as a private process for tests: the system rules, our overrides in a config dir
// under the test workdir (loopback ports, no proxy/fuzzy workers, DNS to the test server, test
// GTUBE patterns enabled), run and database directories of its own.
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnServer, stopChild } from '@hermod/local-infra';
import { requireTool, testWorkdir } from '@hermod/test/harness';

export class RspamdPeer {
  private child: ChildProcess | undefined;
  private output: () => string = () => '';
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(dnsAddress: string): Promise<void> {
    await requireTool('rspamd', 'apt-get install rspamd');
    const dir = await testWorkdir('rspamd');
    for (const sub of ['local.d', 'override.d', 'run', 'db', 'log'])
      await mkdir(join(dir, sub), { recursive: true });
    this.port = await freePort();
    const controller = await freePort();
    const files: Record<string, string> = {
      'override.d/worker-normal.inc': `bind_socket = "127.0.0.1:${this.port}";\ncount = 1;\n`,
      'override.d/worker-controller.inc': `bind_socket = "127.0.0.1:${controller}";\ncount = 1;\n`,
      'override.d/worker-proxy.inc': 'enabled = false;\n',
      'override.d/worker-fuzzy.inc': 'enabled = false;\n',
      'override.d/logging.inc': 'type = "console";\nlevel = "error";\n',
      'local.d/options.inc': `enable_test_patterns = true;\ndns { nameserver = ["${dnsAddress}"]; timeout = 1s; retransmits = 1; }\n`,
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const { child, output } = spawnServer('rspamd', [
      '-f',
      '-i', // runs as the test's user (root in CI) instead of dropping to _rspamd
      '-c',
      '/etc/rspamd/rspamd.conf',
      `--var=LOCAL_CONFDIR=${dir}`,
      `--var=RUNDIR=${join(dir, 'run')}`,
      `--var=DBDIR=${join(dir, 'db')}`,
      `--var=LOGDIR=${join(dir, 'log')}`,
    ]);
    this.child = child;
    this.output = output;
    // Listening comes before the rules are loaded; ready is when a scan answers (loading takes
    // well over a minute on a busy shared machine).
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rspamd exited:\n${output()}`);
      try {
        const res = await fetch(`${this.url}/checkv2`, {
          method: 'POST',
          body: 'Subject: ping\r\n\r\nping\r\n',
        });
        if (res.ok) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`rspamd not ready:\n${output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGTERM', 10_000);
  }

  logs(): string {
    return this.output();
  }
}
