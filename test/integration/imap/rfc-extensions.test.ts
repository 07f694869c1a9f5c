// Conformance tests of the search and fetch extensions (issue 15), written from each RFC's grammar and
// examples over the raw protocol; every response also goes through the response checker.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImapFixture, RawImapClient, startImapFixture } from './imap-fixture.js';

const message = (subject: string) =>
  ['From: a@example.com', 'To: b@example.com', `Subject: ${subject}`, '', 'hello', ''].join('\r\n');

describe('imap extensions by RFC: WITHIN', () => {
  let fx: ImapFixture;
  let id: number;
  const clients: RawImapClient[] = [];
  const connect = async () => {
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    clients.push(raw);
    await raw.readLine();
    await raw.login('una@example.com');
    return raw;
  };
  before(async () => {
    fx = await startImapFixture();
    id = await fx.createUser('una@example.com');
  });
  after(async () => {
    for (const c of clients) c.close();
    await fx?.close();
  });

  it('WITHIN (RFC 5032): advertised; OLDER / YOUNGER compare the internal date with the search time', async () => {
    const now = Date.now();
    await fx.deliver(id, message('two days'), { date: new Date(now - 2 * 86_400_000) });
    await fx.deliver(id, message('two hours'), { date: new Date(now - 2 * 3_600_000) });
    await fx.deliver(id, message('just now'), { date: new Date(now) });
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / WITHIN( |$)/);
    await raw.command('EXAMINE INBOX');
    // RFC 5032 section 3 example: "YOUNGER 259200" finds messages from the last three days.
    assert.deepEqual((await raw.command('SEARCH YOUNGER 259200')).untagged, ['* SEARCH 1 2 3']);
    assert.deepEqual((await raw.command('SEARCH OLDER 86400')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command('SEARCH YOUNGER 3600')).untagged, ['* SEARCH 3']);
    assert.deepEqual((await raw.command('UID SEARCH OLDER 3600 YOUNGER 86400')).untagged, ['* SEARCH 2']);
    assert.deepEqual((await raw.command('SEARCH NOT OLDER 3600')).untagged, ['* SEARCH 3']);
    assert.deepEqual((await raw.command('SEARCH RETURN (COUNT) OR OLDER 86400 YOUNGER 60')).untagged, [
      '* ESEARCH (TAG "t9") COUNT 2',
    ]);
    // interval = nz-number: zero, a negative or a non-number is a syntax error.
    for (const bad of ['OLDER 0', 'YOUNGER -5', 'OLDER', 'YOUNGER soon'])
      assert.equal((await raw.command(`SEARCH ${bad}`)).status, 'BAD', bad);
  });
});
