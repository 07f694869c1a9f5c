import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitForPort } from '@hermod/local-infra';

/**
 * A private Postfix instance on a loopback port (its own config, queue and data directories),
 * accepting for one virtual domain into a Maildir: the durable-accept and end-to-end anchor.
 * Postfix fsyncs each queue file before it answers 250.
 */
export class PostfixPeer {
  private child: ChildProcess | undefined;

  constructor(
    readonly directory: string,
    readonly port: number,
    readonly domain = 'example.net',
  ) {}

  get maildir(): string {
    return join(this.directory, 'maildir');
  }

  async start(): Promise<void> {
    const d = this.directory;
    await mkdir(join(d, 'queue'), { recursive: true });
    await mkdir(join(d, 'data'), { recursive: true });
    await mkdir(this.maildir, { recursive: true });
    // The virtual delivery agent writes as nobody (uid 65534); mkdir's mode is cut by the umask.
    await chmod(this.maildir, 0o777);
    const passwd = await readFile('/etc/passwd', 'utf8');
    const postfixUser = passwd.split('\n').find((l) => l.startsWith('postfix:'));
    if (!postfixUser)
      throw new Error("Postfix is not installed (no 'postfix' user): apt-get install postfix");
    const [, , uid, gid] = postfixUser.split(':');
    await chown(join(d, 'data'), Number(uid), Number(gid));
    await writeFile(
      join(d, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${d}/queue`,
        `data_directory = ${d}/data`,
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'myhostname = postfix.bench.test',
        'mydestination =',
        'mynetworks = 127.0.0.0/8',
        'smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination',
        `virtual_mailbox_domains = ${this.domain}`,
        `virtual_mailbox_base = ${this.maildir}`,
        'virtual_mailbox_maps = static:box/',
        'virtual_uid_maps = static:65534',
        'virtual_gid_maps = static:65534',
        'maillog_file = /dev/stdout',
        'smtpd_tls_security_level = none',
        'default_process_limit = 100',
        '',
      ].join('\n'),
    );
    const master = await readFile('/etc/postfix/master.cf', 'utf8');
    await writeFile(join(d, 'master.cf'), master.replace(/^smtp(\s+)inet/m, `127.0.0.1:${this.port}$1inet`));
    this.child = spawn('postfix', ['-c', d, 'start-fg'], { stdio: 'ignore' });
    await waitForPort(this.port, 20_000, '127.0.0.1', () => this.child?.exitCode !== null);
  }

  /** Messages delivered into the Maildir so far. */
  async delivered(): Promise<number> {
    try {
      return (await readdir(join(this.maildir, 'box', 'new'))).length;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      const stopper = spawn('postfix', ['-c', this.directory, 'stop'], { stdio: 'ignore' });
      stopper.on('close', () => resolve());
    });
    this.child?.kill('SIGTERM');
  }
}
