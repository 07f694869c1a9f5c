// IMAP STARTTLS checked the way an independent tester would, from RFC 9051 6.2.1 (RFC 3501 6.2.1)
// and RFC 2595 3.1: what the client pipelined in plaintext behind STARTTLS never runs, not even a
// half-sent line completed after the handshake; the capabilities before and after TLS; STARTTLS is
// refused over implicit TLS, a second time and after login; a SASL exchange in progress takes the
// client's next line as its response, never as a command.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('IMAP STARTTLS against RFC 9051 6.2.1 and RFC 2595', () => {
  let fx: ImapFixture;
  const clients: RawImapClient[] = [];
  const open = async (port: number, tls: boolean) => {
    const c = await RawImapClient.connect(port, tls);
    clients.push(c);
    await c.readLine();
    return c;
  };

  before(async () => {
    fx = await startImapFixture();
    await fx.createUser('tls@example.com');
  });
  after(async () => {
    for (const c of clients) c.close();
    await fx.close();
  });

  it('a login and a half-sent line pipelined behind STARTTLS are discarded; the TLS session starts clean', async () => {
    const c = await open(fx.service.imapPort, false);
    // In one write: STARTTLS, a complete LOGIN and the start of another command.
    c.send(`a STARTTLS\r\nb LOGIN tls@example.com "${PASSWORD}"\r\nx NOO`);
    assert.match(await c.readLine(), /^a OK/);
    await c.startTls();
    // Had the plaintext survived, this line would read "x NOOc1 CAPABILITY" (BAD), or b would answer.
    c.send('c1 CAPABILITY\r\n');
    const caps = await c.until('c1');
    assert.match(caps.tagged, /^c1 OK/);
    assert.equal(caps.untagged.length, 1, caps.untagged.join('|'));
    assert.match(caps.untagged[0]!, /AUTH=PLAIN/);
    assert.doesNotMatch(caps.untagged[0]!, /STARTTLS|LOGINDISABLED/);
    // Still not authenticated: the pipelined LOGIN did not run.
    assert.equal((await c.command('SELECT INBOX')).status, 'BAD');
    await c.login('tls@example.com');
  });

  it('a synchronising literal pipelined behind STARTTLS gets no continuation request in plaintext', async () => {
    const c = await open(fx.service.imapPort, false);
    // In one write: STARTTLS, then an APPEND announcing a synchronising literal.
    c.send('a STARTTLS\r\nb APPEND INBOX {5}\r\n');
    // The server answers STARTTLS and nothing else before the handshake: no "+ Ready" for b.
    assert.match(await c.readLine(), /^a OK/);
    await c.startTls();
    const caps = await c.command('CAPABILITY');
    assert.equal(caps.status, 'OK');
    assert.equal(caps.untagged.length, 1, caps.untagged.join('|'));
  });

  it('a refused STARTTLS lets the commands pipelined behind it run, literals included', async () => {
    const c = await open(fx.service.imapsPort, true);
    await c.login('tls@example.com');
    c.send('a STARTTLS\r\nb APPEND INBOX {5}\r\n');
    assert.match(await c.readLine(), /^a (BAD|NO)/);
    assert.match(await c.readLine(), /^\+/);
    c.send('hello\r\n');
    assert.match((await c.until('b')).tagged, /^b OK/);
  });

  it('before TLS: STARTTLS and LOGINDISABLED, no AUTH=; ENABLE is refused (nothing to carry over)', async () => {
    const c = await open(fx.service.imapPort, false);
    const caps = await c.command('CAPABILITY');
    assert.match(caps.untagged[0]!, /\bSTARTTLS\b/);
    assert.match(caps.untagged[0]!, /\bLOGINDISABLED\b/);
    assert.doesNotMatch(caps.untagged[0]!, /AUTH=/);
    assert.equal((await c.command('ENABLE UTF8=ACCEPT')).status, 'BAD');
    assert.equal(
      (await c.command(`AUTHENTICATE PLAIN ${b64(`\0tls@example.com\0${PASSWORD}`)}`)).status,
      'NO',
    );
    assert.equal((await c.command('ID ("name" "tester")')).status, 'OK');
    assert.equal((await c.command('STARTTLS')).status, 'OK');
    await c.startTls();
    const again = await c.command('CAPABILITY');
    assert.doesNotMatch(again.untagged[0]!, /STARTTLS|LOGINDISABLED/);
  });

  it('STARTTLS is refused over implicit TLS, a second time, and after login', async () => {
    const implicit = await open(fx.service.imapsPort, true);
    assert.match((await implicit.command('STARTTLS')).status, /^(BAD|NO)$/);
    // The session goes on under the first TLS layer.
    await implicit.login('tls@example.com');
    assert.match((await implicit.command('STARTTLS')).status, /^(BAD|NO)$/);
    assert.equal((await implicit.command('NOOP')).status, 'OK');

    const upgraded = await open(fx.service.imapPort, false);
    assert.equal((await upgraded.command('STARTTLS')).status, 'OK');
    await upgraded.startTls();
    assert.match((await upgraded.command('STARTTLS')).status, /^(BAD|NO)$/);
    await upgraded.login('tls@example.com');
    assert.match((await upgraded.command('STARTTLS')).status, /^(BAD|NO)$/);
    assert.equal((await upgraded.command('NOOP')).status, 'OK');
  });

  it('where plaintext login is allowed: a STARTTLS sent as the answer to an AUTHENTICATE challenge is a SASL response, not a command', async () => {
    const plain = await fx.startReplica({ IMAP_ALLOW_PLAINTEXT_AUTH: 'true' });
    const c = await open(plain.imapPort, false);
    const caps = await c.command('CAPABILITY');
    assert.match(caps.untagged[0]!, /\bSTARTTLS\b/);
    assert.doesNotMatch(caps.untagged[0]!, /LOGINDISABLED/);
    c.send('a AUTHENTICATE PLAIN\r\n');
    assert.match(await c.readLine(), /^\+/);
    c.send('b STARTTLS\r\n');
    const refused = await c.until('a');
    assert.match(refused.tagged, /^a (BAD|NO)/);
    assert.ok(!refused.untagged.some((l) => l.startsWith('b ')), refused.untagged.join('|'));
    // `*` cancels an exchange (RFC 9051 6.2.2) with BAD.
    c.send('d AUTHENTICATE PLAIN\r\n');
    assert.match(await c.readLine(), /^\+/);
    c.send('*\r\n');
    assert.match((await c.until('d')).tagged, /^d BAD/);
    // Nothing of it survives STARTTLS: the TLS session logs in afresh.
    assert.equal((await c.command('STARTTLS')).status, 'OK');
    await c.startTls();
    const after = await c.command('CAPABILITY');
    assert.doesNotMatch(after.untagged[0]!, /STARTTLS/);
    assert.equal((await c.command('SELECT INBOX')).status, 'BAD');
    await c.login('tls@example.com');
  });
});
