import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import {
  addSmtpUtf8ToMailFrom,
  CHECKED_NODEMAILER_VERSION,
  ehloCapabilities,
  tlsUpgradeFailed,
} from '../src/delivery/ehlo-capabilities.js';
import { LocalError, TlsError } from '../src/delivery/errors.js';
import { SmtpSession } from '../src/delivery/smtp-session.js';

// The private nodemailer fields read in ehlo-capabilities.ts, checked against a real SMTP server
// on loopback: an upgrade that renames them fails here (and the version pin fails on any upgrade).

let server: Server;
let port = 0;

before(async () => {
  server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' && line.includes('starttls.client'))
          socket.write('250-ehlo.test\r\n250 STARTTLS\r\n');
        else if (verb === 'EHLO')
          socket.write('250-ehlo.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1234\r\n');
        else if (verb === 'STAR')
          socket.end('220 go ahead\r\n'); // and hang up mid-handshake
        else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.write('220 ehlo.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(() => server.close());

describe('EHLO capabilities from nodemailer', () => {
  it('reads the keywords and the SIZE limit the server announced', async () => {
    const session = await SmtpSession.open({
      host: 'ehlo.test',
      address: '127.0.0.1',
      port,
      heloName: 'client.test',
      requireTls: false,
      verifyTls: false,
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 5_000,
    });
    try {
      assert.equal(session.supports('8BITMIME'), true);
      assert.equal(session.supports('PIPELINING'), true);
      assert.equal(session.supports('SIZE'), true);
      assert.equal(session.supports('SMTPUTF8'), false);
      assert.equal(session.maxSize, 1234);
    } finally {
      session.close();
    }
  });

  it('fails loudly (LocalError) instead of reading "no extensions" when the fields are gone', () => {
    const renamed = { supportedExtensions: ['8BITMIME'], maxAllowedSize: 10 } as unknown as SMTPConnection;
    assert.throws(() => ehloCapabilities(renamed), LocalError);
  });

  it('a peer hanging up in the STARTTLS handshake is a TLS failure (nodemailer reports a socket error)', async () => {
    await assert.rejects(
      SmtpSession.open({
        host: 'ehlo.test',
        address: '127.0.0.1',
        port,
        heloName: 'starttls.client',
        requireTls: false,
        verifyTls: false,
        connectTimeoutMs: 5_000,
        commandTimeoutMs: 5_000,
      }),
      TlsError,
    );
  });

  it('fails loudly (LocalError) when nodemailer no longer sends commands through _sendCommand', () => {
    assert.throws(() => addSmtpUtf8ToMailFrom({} as unknown as SMTPConnection, () => true), LocalError);
  });

  it('fails loudly (LocalError) when the STARTTLS state is no longer a boolean', () => {
    const changed = { upgrading: 'yes', secure: false } as unknown as SMTPConnection;
    assert.throws(() => tlsUpgradeFailed(changed), LocalError);
  });

  it('runs against the nodemailer version it was checked with, pinned exactly in package.json', () => {
    const installed = new SMTPConnection({}).version;
    const pinned = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).dependencies
      .nodemailer;
    assert.equal(pinned, CHECKED_NODEMAILER_VERSION, 'package.json must pin nodemailer exactly');
    assert.equal(
      installed,
      CHECKED_NODEMAILER_VERSION,
      'nodemailer changed: check ehlo-capabilities.ts against the new version, then update the pin',
    );
  });
});
