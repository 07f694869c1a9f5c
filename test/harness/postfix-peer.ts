import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from '@hermod/local-infra';
import { requireTool } from './tools.js';
import { testWorkdir } from './workdir.js';

/** A short command without stdin, never throwing on a non-zero exit. */
function exec(command: string, args: string[], timeoutMs = 60_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Where the virtual delivery agent writes: nobody, so every test process can read the Maildirs. */
const MAIL_UID = 65534;

export interface PostfixPeerOptions {
  /** Domains accepted for any address (virtual mailbox domains). */
  domains: string[];
  /** Loopback address to listen on (127.0.0.1 when omitted; any of 127/8 works on Linux). */
  host?: string;
  /** Loopback port to listen on; a free one when omitted. */
  port?: number;
  /** The instance's directory; a fresh one when omitted (give the same one to restart with its mail). */
  dir?: string;
  /** Offer STARTTLS with this certificate. */
  tls?: { certFile: string; keyFile: string };
  /** Relay everything not in `domains` to this host:port (benchmarks: a sink). */
  relayHost?: string;
  /** The greeting/EHLO name. */
  hostname?: string;
  /** Extra main.cf settings (last word). */
  settings?: Record<string, string>;
  /**
   * The DNS resolver (an address on port 53) Postfix's own lookups use. Postfix has no setting for
   * it (libc reads /etc/resolv.conf), so Postfix runs in a private mount namespace of its own
   * (unshare) where a resolv.conf naming this resolver, with `options trust-ad` (glibc passes the
   * AD bit on only then), is bind-mounted over /etc/resolv.conf; the machine's file is untouched.
   */
  resolver?: string;
}

export interface PostfixPeer {
  port: number;
  dir: string;
  /** The one Maildir every message is delivered into (`new/` holds them). */
  maildir: string;
  /** Messages delivered to one address so far (raw bytes, in delivery order). */
  messages(address: string): Promise<Buffer[]>;
  /** Messages delivered to any address so far. */
  delivered(): Promise<number>;
  /** Waits until an address has at least `count` messages. */
  waitForMessages(address: string, count: number, timeoutMs?: number): Promise<Buffer[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Debian's Postfix as a remote MX (or relay) on one loopback port, with its own config, queue and
 * data directories under a test workdir, accepting mail for any address of `domains` into
 * one Maildir (<dir>/mail/box/). Postfix fsyncs each queue file before it answers 250.
 */
export async function startPostfixPeer(options: PostfixPeerOptions): Promise<PostfixPeer> {
  await requireTool('postfix', 'apt-get install postfix');
  const passwd = await readFile('/etc/passwd', 'utf8');
  if (!passwd.split('\n').some((l) => l.startsWith('postfix:')))
    throw new Error("Postfix is not installed (no 'postfix' user): apt-get install postfix");
  const dir = options.dir ?? (await testWorkdir('postfix'));
  const config = join(dir, 'etc');
  const mail = join(dir, 'mail');
  for (const d of [config, join(dir, 'queue'), join(dir, 'data'), mail]) await mkdir(d, { recursive: true });
  await chown(mail, MAIL_UID, MAIL_UID);
  const postfixIds = (await exec('id', ['postfix'])).stdout;
  const id = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(postfixIds)?.[1] ?? 0);
  await chown(join(dir, 'data'), id('uid'), id('gid'));
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    myhostname: options.hostname ?? 'peer.postfix.test',
    mydestination: '',
    inet_interfaces: host,
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks reject_unauth_destination',
    virtual_mailbox_domains: options.domains.join(' '),
    virtual_mailbox_base: mail,
    // Every address into one Maildir (the trailing slash); Delivered-To tells them apart.
    virtual_mailbox_maps: 'static:box/',
    virtual_uid_maps: `static:${MAIL_UID}`,
    virtual_gid_maps: `static:${MAIL_UID}`,
    alias_maps: '',
    alias_database: '',
    maillog_file: join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    smtputf8_enable: 'yes',
    message_size_limit: '52428800',
    virtual_mailbox_limit: '0',
    default_process_limit: '100',
    relayhost: options.relayHost ? `[${options.relayHost.replace(/:(\d+)$/, ']:$1')}` : '',
    smtp_tls_security_level: 'none',
    ...(options.tls
      ? {
          smtpd_tls_cert_file: options.tls.certFile,
          smtpd_tls_key_file: options.tls.keyFile,
          smtpd_tls_security_level: 'may',
        }
      : { smtpd_tls_security_level: 'none' }),
    ...options.settings,
  };
  await writeFile(
    join(config, 'main.cf'),
    `${Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n')}\n`,
  );
  // The public smtpd listener moves to our loopback port; nothing chrooted (paths are absolute).
  const master = (await readFile('/etc/postfix/master.cf', 'utf8'))
    .replace(/^smtp(\s+inet)/m, `${host}:${port}$1`)
    .replace(/^(\S+\s+(?:inet|unix|unix-dgram|fifo|pass)\s+[-yn]\s+[-yn]\s+)y(\s)/gm, '$1n$2');
  await writeFile(join(config, 'master.cf'), master);

  // start-fg: `postfix start` gives up silently where there is no syslog socket.
  let command = 'postfix';
  let args = ['-c', config, 'start-fg'];
  if (options.resolver) {
    await requireTool('unshare', 'apt-get install util-linux');
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, `nameserver ${options.resolver}\noptions trust-ad\n`);
    command = 'unshare';
    args = [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec postfix -c "$1" start-fg',
      resolvConf,
      config,
    ];
  }
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString('utf8')).slice(-4_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const log = () => readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
  await waitForPort(port, 20_000, host, () => child.exitCode !== null).catch(async (error: unknown) => {
    throw new Error(`postfix did not start: ${(error as Error).message}\n${out}\n${await log()}`);
  });

  const maildir = join(mail, 'box');
  const all = async (): Promise<Buffer[]> => {
    const files = await readdir(join(maildir, 'new')).catch(() => [] as string[]);
    return Promise.all(files.sort().map((f) => readFile(join(maildir, 'new', f))));
  };
  // Postfix's virtual agent names the recipient in the Delivered-To field it prepends.
  const messages = async (address: string): Promise<Buffer[]> =>
    (await all()).filter(
      (m) =>
        /^Delivered-To: (.*)$/im.exec(m.subarray(0, 4096).toString('latin1'))?.[1]?.trim().toLowerCase() ===
        address.toLowerCase(),
    );
  return {
    port,
    dir,
    maildir,
    messages,
    delivered: async () => (await readdir(join(maildir, 'new')).catch(() => [])).length,
    async waitForMessages(address, count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await messages(address);
        if (found.length >= count) return found;
        if (Date.now() > deadline)
          throw new Error(
            `Postfix peer: ${found.length}/${count} messages for ${address} after ${timeoutMs} ms\n${await log()}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await exec('postfix', ['-c', config, 'stop'], 30_000);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) await stopChild(child, 'SIGKILL');
    },
  };
}

export interface SmtpSinkOptions {
  /** Loopback address to listen on (127.0.0.1 when omitted). */
  host?: string;
  port?: number;
  /** Commands answered with a soft (4xx) error, e.g. ['rcpt'] (smtp-sink -r). */
  softReject?: string[];
  /** Commands answered with a hard (5xx) error, e.g. ['rcpt'] (smtp-sink -f). */
  hardReject?: string[];
  /** Seconds to wait before answering DATA (smtp-sink -w). */
  dataDelaySeconds?: number;
  /** Keep every transaction as a file in this directory (smtp-sink -d). */
  dumpDirectory?: string;
  backlog?: number;
  /** Log the SMTP commands as they arrive (smtp-sink -v), for commandCount(). */
  logCommands?: boolean;
}

export interface SmtpSink {
  port: number;
  /** Transactions dumped so far (with dumpDirectory). */
  dumps(): Promise<Buffer[]>;
  /** How many times the command (a verb: DATA, RCPT, ...) has been received (with logCommands). */
  commandCount(verb: string): number;
  stop(): Promise<void>;
}

/**
 * Postfix's smtp-sink on loopback: accepts and discards (or dumps), or refuses chosen commands.
 * It never offers STARTTLS.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  await requireTool('smtp-sink', 'apt-get install postfix (smtp-sink is in the postfix package)');
  const port = options.port ?? (await freePort());
  const args: string[] = [];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');
  if (options.softReject?.length) args.push('-r', options.softReject.join(','));
  if (options.hardReject?.length) args.push('-f', options.hardReject.join(','));
  if (options.dataDelaySeconds) args.push('-w', String(options.dataDelaySeconds));
  if (options.logCommands) args.push('-v');
  if (options.dumpDirectory) {
    await mkdir(options.dumpDirectory, { recursive: true });
    await chown(options.dumpDirectory, MAIL_UID, MAIL_UID);
    args.push('-d', `${options.dumpDirectory}/%Y%m%d%H%M%S.`);
  }
  const host = options.host ?? '127.0.0.1';
  args.push(`${host}:${port}`, String(options.backlog ?? 256));
  const child: ChildProcess = spawn('smtp-sink', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let partial = '';
  const commands = new Map<string, number>();
  const keep = (c: Buffer) => {
    const text = c.toString('utf8');
    out = (out + text).slice(-8_000);
    if (!options.logCommands) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const verb = /^smtp-sink: ([A-Za-z]+)\b/.exec(line)?.[1]?.toUpperCase();
      if (verb) commands.set(verb, (commands.get(verb) ?? 0) + 1);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await waitForPort(port, 10_000, host, () => child.exitCode !== null).catch((error: unknown) => {
    throw new Error(`smtp-sink did not start: ${(error as Error).message}\n${out}`);
  });
  return {
    port,
    async dumps() {
      const directory = options.dumpDirectory;
      if (!directory) return [];
      const files = (await readdir(directory)).sort();
      return Promise.all(files.map((f) => readFile(join(directory, f))));
    },
    commandCount: (verb) => commands.get(verb.toUpperCase()) ?? 0,
    stop: () => stopChild(child, 'SIGTERM', 5_000),
  };
}
