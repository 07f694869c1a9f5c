// PROXY protocol (v1 and v2) on msa and imap behind a load balancer: real msa and imap processes,
// raw sockets that send the header and then speak SMTP/IMAP (over TLS on the implicit-TLS ports).
// The login throttle (PostgreSQL, shared) keys on the client address the header names; a peer
// outside the trusted CIDRs is refused, header or not.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import { type HermodPlatform, startHermod } from '@hermod/test/harness';
import { login } from '../submission/login-wire.js';

/** The load balancer's address: the only trusted one. */
const PROXY = '127.0.0.2';
let hermod: HermodPlatform;
const ports = { submission: 0, submissions: 0, imap: 0, imaps: 0 };

function proxyV1(ip: string, port = 40000): Buffer {
  return Buffer.from(`PROXY TCP4 ${ip} 127.0.0.1 ${port} 993\r\n`);
}

function proxyV2(ip: string, port = 40000): Buffer {
  const body = Buffer.from([...ip.split('.').map(Number), 127, 0, 0, 1, port >> 8, port & 0xff, 0x03, 0xe1]);
  const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  // Version 2, PROXY command; TCP over IPv4.
  return Buffer.concat([Buffer.from([...signature, 0x21, 0x11, 0, body.length]), body]);
}

before(async () => {
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
  const throttle = { AUTH_FAILURE_BASE_DELAY_MS: '0' };
  hermod = await startHermod({
    services: ['routing', 'msa', 'imap'],
    env: {
      msa: {
        ...throttle,
        MSA_PROXY_SUBMISSION_PORT: String(ports.submission),
        MSA_PROXY_SUBMISSIONS_PORT: String(ports.submissions),
        MSA_PROXY_TRUSTED_CIDRS: `${PROXY}/32`,
      },
      imap: {
        ...throttle,
        IMAP_PROXY_PORT: String(ports.imap),
        IMAPS_PROXY_PORT: String(ports.imaps),
        IMAP_PROXY_TRUSTED_CIDRS: `${PROXY}/32`,
      },
    },
  });
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({ address: 'pat@example.test', password: 'pat-password-1' });
});

after(async () => {
  await hermod?.stop();
});

async function failures(key: string): Promise<number> {
  const { rows } = await hermod.db.pool.query<{ failures: number }>(
    'SELECT failures FROM login_failures WHERE key = $1',
    [key],
  );
  return rows[0]?.failures ?? 0;
}

for (const [protocol, port] of [
  ['smtp', () => ports.submissions],
  ['imap', () => ports.imaps],
] as const) {
  for (const [version, header] of [
    ['v1', proxyV1],
    ['v2', proxyV2],
  ] as const) {
    test(`${protocol} ${version}: a failed login through the proxy counts against the proxied client address`, async () => {
      const client = `198.51.100.${protocol === 'smtp' ? 1 : 2}${version === 'v1' ? 1 : 2}`;
      const outcome = await login(protocol, port(), PROXY, 'pat@example.test', 'wrong', '', header(client));
      assert.equal(outcome, 'failed');
      // One upsert writes every key of an attempt: the proxied IP's counter moved, the proxy's did not.
      assert.equal(await failures(`ip:${client}`), 1);
      assert.equal(await failures(`ip:${PROXY}`), 0);
      // And a good login through the proxy works.
      assert.equal(
        await login(protocol, port(), PROXY, 'pat@example.test', 'pat-password-1', '', header(client)),
        'ok',
      );
    });
  }
}

test('the lockout follows the proxied client: one locked address, another served through the same proxy', async () => {
  const attacker = '203.0.113.66';
  const other = '203.0.113.67';
  let outcome: string;
  let attempts = 0;
  do {
    outcome = await login(
      'imap',
      ports.imaps,
      PROXY,
      `nobody${attempts}@example.test`,
      'x',
      '',
      proxyV2(attacker),
    );
    attempts += 1;
  } while (outcome === 'failed' && attempts < 50);
  assert.equal(outcome, 'locked', 'the attacker address is locked out');
  // The shared throttle locks it on submission too, and only it.
  assert.equal(
    await login(
      'smtp',
      ports.submissions,
      PROXY,
      'pat@example.test',
      'pat-password-1',
      '',
      proxyV1(attacker),
    ),
    'locked',
  );
  assert.equal(
    await login('smtp', ports.submissions, PROXY, 'pat@example.test', 'pat-password-1', '', proxyV1(other)),
    'ok',
  );
});

/** What a raw connection receives until the server closes it (or the first reply line). */
function exchange(port: number, localAddress: string, send: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    socket.setTimeout(15_000, () => socket.destroy());
    socket.on('connect', () => socket.write(send));
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (received.includes('\r\n')) socket.end();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
  });
}

test('the STARTTLS ports greet after a v1 or v2 header from the proxy', async () => {
  assert.match(await exchange(ports.submission, PROXY, proxyV1('192.0.2.10')), /^220 /);
  assert.match(await exchange(ports.submission, PROXY, proxyV2('192.0.2.10')), /^220 /);
  assert.match(await exchange(ports.imap, PROXY, proxyV1('192.0.2.10')), /^\* OK /);
  assert.match(await exchange(ports.imap, PROXY, proxyV2('192.0.2.10')), /^\* OK /);
});

test('a PROXY header from an untrusted peer is refused; so is a trusted peer without a header', async () => {
  for (const port of [ports.submission, ports.submissions, ports.imap, ports.imaps]) {
    assert.equal(await exchange(port, '127.0.0.1', proxyV1('192.0.2.99')), '', `untrusted v1 on ${port}`);
    assert.equal(await exchange(port, '127.0.0.1', proxyV2('192.0.2.99')), '', `untrusted v2 on ${port}`);
  }
  assert.equal(await exchange(ports.submission, PROXY, Buffer.from('EHLO sneaky.example\r\n')), '');
  assert.equal(await exchange(ports.imap, PROXY, Buffer.from('a LOGIN x y\r\n')), '');
  // The refusals were refusals, not a dead listener: the proxy is still served.
  assert.match(await exchange(ports.imap, PROXY, proxyV1('192.0.2.10')), /^\* OK /);
});
