// STARTTLS (IMAP, ManageSieve) and STLS (POP3) must keep the per-IP connection slot accounting: a session that
// upgrades, and one whose handshake fails or is abandoned, gives its slot back when it ends.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { type ImapFixture, startImapFixture } from './imap-fixture.js';

const CAP = 3;

/** A plain connection with its received text, for greetings and the upgrade reply. */
async function open(port: number) {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  let text = '';
  const onData = (d: Buffer) => {
    text += d.toString('latin1');
  };
  socket.on('data', onData);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  const until = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(text)) {
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}: ${text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { socket, closed, until, text: () => text, stopReading: () => socket.off('data', onData) };
}

describe('STARTTLS and STLS keep the per-IP connection slots (one transport for the three protocols)', () => {
  let fx: ImapFixture;
  before(async () => {
    fx = await startImapFixture({ IMAP_MAX_CONNECTIONS_PER_IP: String(CAP) });
  });
  after(async () => {
    await fx?.close();
  });

  const greeted = async (port: number, greeting: RegExp) => {
    const c = await open(port);
    await c.until(/\r\n/);
    assert.match(c.text(), greeting);
    c.socket.destroy();
    await c.closed;
  };

  // Each way of ending an upgraded session, more times than the cap: the slots must come back.
  const endings = {
    'a failed handshake (bytes that are not TLS)': async (c: Awaited<ReturnType<typeof open>>) => {
      c.socket.write('this is not a TLS ClientHello\r\n\r\n');
      await c.closed;
    },
    'an abandoned handshake (the client goes away)': async (c: Awaited<ReturnType<typeof open>>) => {
      c.socket.end();
      await c.closed;
    },
    'a completed upgrade the client then closes': async (c: Awaited<ReturnType<typeof open>>) => {
      c.stopReading();
      const secure = await new Promise<ReturnType<typeof connectTls>>((resolve, reject) => {
        const s = connectTls({ socket: c.socket, rejectUnauthorized: false }, () => resolve(s));
        s.once('error', reject);
      });
      secure.destroy();
      await c.closed;
    },
  };

  for (const [ending, finish] of Object.entries(endings)) {
    it(`IMAP STARTTLS then ${ending}`, async () => {
      for (let i = 0; i < CAP + 2; i++) {
        const c = await open(fx.service.imapPort);
        await c.until(/^\* OK .*\r\n/);
        c.socket.write('a STARTTLS\r\n');
        await c.until(/a OK [^\r\n]*\r\n/);
        await finish(c);
      }
      await greeted(fx.service.imapPort, /^\* OK/);
    });

    it(`POP3 STLS then ${ending}`, async () => {
      for (let i = 0; i < CAP + 2; i++) {
        const c = await open(fx.service.pop3Port);
        await c.until(/^\+OK .*\r\n/);
        c.socket.write('STLS\r\n');
        await c.until(/\r\n\+OK [^\r\n]*\r\n/);
        await finish(c);
      }
      await greeted(fx.service.pop3Port, /^\+OK/);
    });

    it(`ManageSieve STARTTLS then ${ending}`, async () => {
      for (let i = 0; i < CAP + 2; i++) {
        const c = await open(fx.service.managesievePort);
        await c.until(/\r\nOK "Hermod ManageSieve ready"\r\n/);
        c.socket.write('STARTTLS\r\n');
        await c.until(/\r\nOK "Begin TLS negotiation now"\r\n/);
        await finish(c);
      }
      await greeted(fx.service.managesievePort, /^"IMPLEMENTATION"/);
    });
  }
});
