import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { LibraryRefusal } from '../src/enhanced-status-codes.js';
import '../src/command-rules.js';
import '../src/enhanced-status-codes.js';
import { limitSessionErrors } from '../src/error-limit.js';
import { registerOauthBearer } from '../src/oauthbearer-mechanism.js';
import { refuseUnofferedParameters } from '../src/parameter-rules.js';
import '../src/refuse-auth-before-tls.js';
import {
  CHECKED_SMTP_SERVER_VERSION,
  type ConnectionInternals,
  connectionPrototype,
  saslMechanisms,
} from '../src/smtp-server-internals.js';

// The private smtp-server members named in smtp-server-internals.ts, checked on any upgrade: the
// version pin fails first, then every member is looked for, then each patch runs against a real
// server on loopback.

const repoRoot = new URL('../../../../', import.meta.url);

/** Every package.json of the workspace that depends on smtp-server, with the version it asks for. */
function smtpServerDependents(): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  const look = (dir: URL) => {
    let text: string;
    try {
      text = readFileSync(new URL('package.json', dir), 'utf8');
    } catch {
      return;
    }
    const json = JSON.parse(text) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'devDependencies'])
      if (json[field]?.['smtp-server'])
        found.push([new URL('package.json', dir).pathname, json[field]['smtp-server']]);
  };
  look(repoRoot);
  for (const parent of ['services/', 'services/lib/', 'test/', 'operator/', 'bench/']) {
    look(new URL(parent, repoRoot));
    let entries: string[] = [];
    try {
      entries = readdirSync(new URL(parent, repoRoot));
    } catch {}
    for (const name of entries) look(new URL(`${parent}${name}/`, repoRoot));
  }
  return found;
}

describe('smtp-server internals', () => {
  it('runs against the smtp-server version it was checked with, pinned exactly everywhere', () => {
    const require = createRequire(import.meta.url);
    const installed = JSON.parse(readFileSync(require.resolve('smtp-server/package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(
      installed.version,
      CHECKED_SMTP_SERVER_VERSION,
      'smtp-server changed: check smtp-server-internals.ts and its patches against the new version, then update the pin',
    );
    const dependents = smtpServerDependents();
    assert.ok(dependents.length >= 3, `found ${dependents.length} dependents`);
    for (const [file, version] of dependents)
      assert.equal(version, CHECKED_SMTP_SERVER_VERSION, `${file} must pin smtp-server exactly`);
  });

  it('has every private member the patches use', () => {
    for (const name of [
      '_isSupported',
      'handler_EHLO',
      'send',
      '_transmissionType',
      'handler_AUTH',
      'handler_DATA',
      'handler_RSET',
    ] as const)
      assert.equal(
        typeof (connectionPrototype as unknown as Record<string, unknown>)[name],
        'function',
        `SMTPConnection.prototype.${name}`,
      );
    assert.equal(typeof saslMechanisms.SASL_XOAUTH2, 'function', 'the SASL table (SASL_<NAME>)');
  });
});

/** A line-based SMTP client on a raw socket: each call returns the next complete reply. */
class Wire {
  private buffer = '';
  private waiting: (() => void) | undefined;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.waiting?.();
    });
  }

  static async open(port: number): Promise<Wire> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const wire = new Wire(socket);
    await wire.reply();
    return wire;
  }

  async reply(): Promise<string> {
    for (;;) {
      const end = /(^|\r\n)\d{3} [^\r\n]*\r\n/.exec(this.buffer);
      if (end) {
        const length = end.index + end[0].length;
        const reply = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return reply;
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

async function listen(options: SMTPServerOptions): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({ disableReverseLookup: true, logger: false, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.server.address() as { port: number }).port };
}

describe('the patches against a real smtp-server', () => {
  let cleartext: { server: SMTPServer; port: number };
  let bearer: { server: SMTPServer; port: number };
  const refusals: LibraryRefusal[] = [];
  const sessions: ConnectionInternals['session'][] = [];

  before(async () => {
    registerOauthBearer((base64) => {
      const [user, token] = Buffer.from(base64, 'base64').toString().split(':');
      return token === undefined ? undefined : { user, token };
    });
    cleartext = await listen({
      authMethods: ['PLAIN'],
      allowInsecureAuth: false,
      // STARTTLS is offered (smtp-server's built-in certificate), so AUTH before it gets 538.
      hideENHANCEDSTATUSCODES: false,
      onAuth: (_auth, _session, callback) => callback(new Error('not reached before TLS')),
    });
    cleartext.server.on('hermod:refused' as 'error', (refusal: unknown) =>
      refusals.push(refusal as LibraryRefusal),
    );
    bearer = await listen({
      authMethods: ['OAUTHBEARER'],
      allowInsecureAuth: true,
      hideSTARTTLS: true,
      onAuth(auth, session, callback) {
        sessions.push(session as ConnectionInternals['session']);
        if ((auth.method as string) === 'OAUTHBEARER' && auth.accessToken === 'good')
          callback(null, { user: auth.username });
        else callback(null, { data: { status: 'invalid_token' } });
      },
    });
  });

  after(async () => {
    await new Promise<void>((resolve) => cleartext.server.close(() => resolve()));
    await new Promise<void>((resolve) => bearer.server.close(() => resolve()));
  });

  it('lists no AUTH in EHLO before TLS, answers AUTH there with 538 5.7.11, and announces its own refusals', async () => {
    const wire = await Wire.open(cleartext.port);
    try {
      const ehlo = await wire.command('EHLO client.test');
      assert.match(ehlo, /^250-/);
      assert.match(ehlo, /PIPELINING/);
      assert.match(ehlo, /ENHANCEDSTATUSCODES/);
      assert.match(ehlo, /STARTTLS/);
      assert.doesNotMatch(ehlo, /AUTH/);
      assert.match(await wire.command('AUTH PLAIN AGEAYg=='), /^538 5\.7\.11 /);
      // A refusal the library sends itself is announced on the server, for counting.
      assert.match(await wire.command('MAIL FROM:<a@client.test>'), /^530 /);
      assert.equal(refusals.at(-1)?.code, 530);
      // A reply the library chose keeps the library's enhanced code.
      assert.match(await wire.command('NOOP'), /^250 2\.0\.0 /);
    } finally {
      wire.close();
    }
  });

  it('accepts OAUTHBEARER through onAuth, and answers a refused token with the 334 challenge, then 535', async () => {
    const good = await Wire.open(bearer.port);
    try {
      assert.match(await good.command('EHLO client.test'), /AUTH OAUTHBEARER/);
      const response = Buffer.from('pat@example.test:good').toString('base64');
      assert.match(await good.command(`AUTH OAUTHBEARER ${response}`), /^235 /);
      assert.ok(sessions.at(-1)?.transmissionType, 'the session records its transmission type');
    } finally {
      good.close();
    }
    const bad = await Wire.open(bearer.port);
    try {
      await bad.command('EHLO client.test');
      assert.match(await bad.command('AUTH OAUTHBEARER'), /^334/);
      const challenge = await bad.command(Buffer.from('pat@example.test:bad').toString('base64'));
      assert.match(challenge, /^334 /);
      assert.deepEqual(JSON.parse(Buffer.from(challenge.slice(4).trim(), 'base64').toString()), {
        status: 'invalid_token',
      });
      assert.match(await bad.command('AQ=='), /^535 /);
    } finally {
      bad.close();
    }
  });

  it('refuses DATA and RSET with an argument (501), AUTH in a transaction (503), and parameters not offered (555)', async () => {
    const refused: string[] = [];
    const plain = await listen(
      refuseUnofferedParameters(
        {
          authMethods: ['PLAIN'],
          allowInsecureAuth: true,
          authOptional: true,
          hideSTARTTLS: true,
          hideENHANCEDSTATUSCODES: false,
          onAuth: (_auth, _session, callback) => callback(null, { user: 'u' }),
        },
        (_session, reason) => refused.push(reason),
      ),
    );
    const wire = await Wire.open(plain.port);
    try {
      await wire.command('EHLO client.test');
      assert.match(await wire.command('MAIL FROM:<a@client.test> RET=FULL'), /^555 5\.5\.4 /);
      assert.deepEqual(refused, ['parameter']);
      assert.match(await wire.command('MAIL FROM:<a@client.test> AUTH=<> BODY=8BITMIME'), /^250 /);
      assert.match(await wire.command('AUTH PLAIN AGEAYg=='), /^503 5\.5\.1 /);
      assert.match(await wire.command('RCPT TO:<b@client.test> NOTIFY=NEVER'), /^555 5\.5\.4 /);
      assert.match(await wire.command('RCPT TO:<b@client.test>'), /^250 /);
      assert.match(await wire.command('RSET now'), /^501 5\.5\.4 /);
      assert.match(await wire.command('DATA now'), /^501 5\.5\.4 /);
      assert.match(await wire.command('DATA'), /^354 /);
    } finally {
      wire.close();
      await new Promise<void>((resolve) => plain.server.close(() => resolve()));
    }
  });

  it("ends a session with 421 4.7.0 at its limit of refusals, counting the library's and the hooks' alike", async () => {
    const limited = await listen({
      authOptional: true,
      hideSTARTTLS: true,
      hideENHANCEDSTATUSCODES: false,
      onRcptTo: (_address, _session, callback) =>
        callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 })),
    });
    const announced: LibraryRefusal[] = [];
    limited.server.on('hermod:refused' as 'error', (r: unknown) => announced.push(r as LibraryRefusal));
    limitSessionErrors(limited.server, 3);
    const wire = await Wire.open(limited.port);
    try {
      await wire.command('EHLO client.test');
      assert.match(await wire.command('DATA'), /^503 /); // the library's
      assert.match(await wire.command('MAIL FROM:<a@client.test>'), /^250 /);
      assert.match(await wire.command('RCPT TO:<b@client.test>'), /^550 5\.1\.1 /); // the hook's
      assert.match(await wire.command('NOOP'), /^250 /);
      assert.match(await wire.command('RCPT TO:<c@client.test>'), /^550 5\.1\.1 /);
      assert.match(await wire.reply(), /^421 4\.7\.0 /);
      assert.equal(announced.at(-1)?.context, 'TOO_MANY_ERRORS');
    } finally {
      wire.close();
      await new Promise<void>((resolve) => limited.server.close(() => resolve()));
    }
  });
});
