// SSO over raw TLS sockets against real msa and imap (IMAP, POP3, ManageSieve): SASL OAUTHBEARER (RFC 7628) and
// XOAUTH2 with JWTs from an OpenID Connect issuer of the test's own on loopback. A valid token logs
// in; expired, wrong-audience, wrong-issuer, unknown-kid and bad-signature tokens get the RFC 7628
// error challenge and then a failure, each counted by the shared login throttle.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type HermodPlatform, startHermod } from '@hermod/test/harness';
import { openManageSieveClient, openTlsClient } from './login-wire.js';
import { startTestIssuer, type TestIssuer } from './oidc-issuer.js';

let hermod: HermodPlatform;
let issuer: TestIssuer;
let patId: number;
const AUDIENCE = 'hermod-mail';

before(async () => {
  issuer = await startTestIssuer();
  const sso = {
    OIDC_ISSUER: issuer.url,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_CLOCK_SKEW_S: '30',
    AUTH_FAILURE_BASE_DELAY_MS: '0',
  };
  hermod = await startHermod({ services: ['routing', 'imap', 'msa'], env: { msa: sso, imap: sso } });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  patId = (await accounts.create({ address: 'pat@example.test', password: 'pat-password-1' })).id;
  await accounts.create({ address: 'lee@example.test', password: 'lee-password-1' });
});

after(async () => {
  await hermod?.stop();
  await issuer?.close();
});

type Protocol = 'smtp' | 'imap' | 'pop3' | 'sieve';
type Mechanism = 'OAUTHBEARER' | 'XOAUTH2';
interface Answer {
  outcome: 'ok' | 'failed' | 'locked';
  /** The RFC 7628 error status sent as a challenge before the failure. */
  status?: Record<string, string>;
  /** The mechanisms the server advertised before the login. */
  advertised: string;
}

function saslResponse(mechanism: Mechanism, user: string, token: string): string {
  const text =
    mechanism === 'OAUTHBEARER'
      ? `n,a=${user},\x01auth=Bearer ${token}\x01\x01`
      : `user=${user}\x01auth=Bearer ${token}\x01\x01`;
  return Buffer.from(text).toString('base64');
}

async function tokenLogin(
  protocol: Protocol,
  mechanism: Mechanism,
  user: string,
  token: string,
  localAddress = '127.0.0.1',
): Promise<Answer> {
  const port = {
    smtp: hermod.ports.submissions,
    imap: hermod.ports.imaps,
    pop3: hermod.ports.pop3s,
    sieve: hermod.ports.managesieve,
  }[protocol];
  const { socket, next } =
    protocol === 'sieve'
      ? await openManageSieveClient(port, localAddress)
      : openTlsClient(port, localAddress);
  const response = saslResponse(mechanism, user, token);
  const decode = (line: string) =>
    JSON.parse(Buffer.from(line.replace(/^\S+ /, '').trim(), 'base64').toString('utf8')) as Record<
      string,
      string
    >;
  try {
    let advertised: string;
    let answer: string;
    let status: Record<string, string> | undefined;
    if (protocol === 'smtp') {
      const reply = /(?:^|\n)\d{3} [^\r\n]*\r\n/;
      await next(reply);
      socket.write('EHLO client.test\r\n');
      advertised = await next(/[\s\S]*?(?:^|\n)250 [^\r\n]*\r\n/);
      advertised = /250[- ]AUTH ([^\r\n]*)/.exec(advertised)?.[1] ?? '';
      socket.write(`AUTH ${mechanism} ${response}\r\n`);
      answer = await next(reply);
      if (/^\s*334 /.test(answer)) {
        status = decode(answer.trim());
        socket.write('AQ==\r\n');
        answer = await next(reply);
      }
      socket.write('QUIT\r\n');
      if (/^\s*235 /.test(answer)) return { outcome: 'ok', advertised };
      if (/^\s*535 /.test(answer)) return { outcome: 'failed', status, advertised };
      if (/^\s*454 /.test(answer)) return { outcome: 'locked', advertised };
      throw new Error(`unexpected SMTP reply ${answer}`);
    }
    if (protocol === 'imap') {
      advertised = await next(/^\* OK[^\r\n]*\r\n/);
      socket.write(`a AUTHENTICATE ${mechanism} ${response}\r\n`);
      answer = await next(/(?:^|\n)(a|\+) [^\r\n]*\r\n/);
      if (/^\s*\+ /.test(answer)) {
        status = decode(answer.trim());
        socket.write('AQ==\r\n');
        answer = await next(/(?:^|\n)a [^\r\n]*\r\n/);
      }
      socket.write('b LOGOUT\r\n');
      if (/a OK/.test(answer)) return { outcome: 'ok', advertised };
      if (/\[AUTHENTICATIONFAILED\]/.test(answer)) return { outcome: 'failed', status, advertised };
      if (/\[UNAVAILABLE\]/.test(answer)) return { outcome: 'locked', advertised };
      throw new Error(`unexpected IMAP reply ${answer}`);
    }
    if (protocol === 'sieve') {
      // RFC 5804 2.1: the challenge and the client's response are strings.
      const final = /(?:^|\n)(?:OK|NO|BYE)[^\r\n]*\r\n/;
      advertised = /^"SASL" "([^"]*)"/m.exec(await next(/[\s\S]*?(?:^|\n)OK[^\r\n]*\r\n/))?.[1] ?? '';
      socket.write(`AUTHENTICATE "${mechanism}" "${response}"\r\n`);
      answer = await next(/(?:^|\n)(?:OK|NO|BYE|")[^\r\n]*\r\n/);
      if (/^\s*"/.test(answer)) {
        status = decode(answer.trim().slice(1, -1));
        socket.write('"AQ=="\r\n');
        answer = await next(final);
      }
      socket.write('LOGOUT\r\n');
      if (/^\s*OK/.test(answer)) return { outcome: 'ok', advertised };
      if (/^\s*NO \(TRYLATER\)/.test(answer)) return { outcome: 'locked', advertised };
      if (/^\s*NO/.test(answer)) return { outcome: 'failed', status, advertised };
      throw new Error(`unexpected ManageSieve reply ${answer}`);
    }
    await next(/^\+OK[^\r\n]*\r\n/);
    socket.write('CAPA\r\n');
    advertised = /SASL ([^\r\n]*)/.exec(await next(/[\s\S]*?\r\n\.\r\n/))?.[1] ?? '';
    socket.write(`AUTH ${mechanism} ${response}\r\n`);
    answer = await next(/^[+-][^\r\n]*\r\n/);
    if (/^\+ /.test(answer)) {
      status = decode(answer.trim());
      socket.write('AQ==\r\n');
      answer = await next(/^[+-][^\r\n]*\r\n/);
    }
    socket.write('QUIT\r\n');
    if (answer.startsWith('+OK')) return { outcome: 'ok', advertised };
    if (answer.startsWith('-ERR [AUTH]')) return { outcome: 'failed', status, advertised };
    if (answer.startsWith('-ERR [SYS/TEMP]')) return { outcome: 'locked', advertised };
    throw new Error(`unexpected POP3 reply ${answer}`);
  } finally {
    socket.end();
  }
}

async function failures(key: string): Promise<number> {
  const { rows } = await hermod.db.pool.query<{ failures: number }>(
    'SELECT failures FROM login_failures WHERE key = $1',
    [key],
  );
  return rows[0]?.failures ?? 0;
}

const protocols: Array<[Protocol, string]> = [
  ['smtp', '127.0.0.2'],
  ['imap', '127.0.0.3'],
  ['pop3', '127.0.0.4'],
  ['sieve', '127.0.0.5'],
];

for (const [protocol, ip] of protocols) {
  test(`${protocol}: a valid token logs in, bad tokens are refused with the RFC 7628 status and counted`, async () => {
    const user = 'pat@example.test';
    const good = await issuer.sign({ email: user, aud: AUDIENCE });
    for (const mechanism of ['OAUTHBEARER', 'XOAUTH2'] as const) {
      const answer = await tokenLogin(protocol, mechanism, user, good, ip);
      assert.equal(answer.outcome, 'ok', `${mechanism} with a valid token`);
      assert.match(
        answer.advertised,
        protocol === 'imap' ? /AUTH=OAUTHBEARER AUTH=XOAUTH2/ : /OAUTHBEARER XOAUTH2/,
      );
    }
    assert.equal(
      (
        await tokenLogin(
          protocol,
          'XOAUTH2',
          user,
          await issuer.sign({ email: user, aud: AUDIENCE }, { key: 'es' }),
          ip,
        )
      ).outcome,
      'ok',
      'ES256',
    );

    const bad: Array<[string, string]> = [
      [
        'expired',
        await issuer.sign({ email: user, aud: AUDIENCE }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      ],
      ['wrong audience', await issuer.sign({ email: user, aud: 'someone-else' })],
      ['wrong issuer', await issuer.sign({ email: user, aud: AUDIENCE, iss: 'https://evil.test' })],
      ['unknown kid', await issuer.sign({ email: user, aud: AUDIENCE }, { key: 'unlisted' })],
      ['bad signature', `${good.slice(0, -6)}${good.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`],
      ['another account', await issuer.sign({ email: 'lee@example.test', aud: AUDIENCE })],
    ];
    const before = await failures(`account:${patId}`);
    for (const [i, [name, token]] of bad.entries()) {
      const answer = await tokenLogin(protocol, i % 2 ? 'XOAUTH2' : 'OAUTHBEARER', user, token, ip);
      assert.equal(answer.outcome, 'failed', name);
      assert.equal(answer.status?.status, 'invalid_token', `${name}: the RFC 7628 status`);
      assert.equal(answer.status?.['openid-configuration'], `${issuer.url}/.well-known/openid-configuration`);
    }
    assert.equal(
      await failures(`account:${patId}`),
      before + bad.length,
      'every bad token counted against the account',
    );
    assert.equal(await failures(`ip:${ip}`), bad.length, 'and against the client');
    // A success clears the account's own count (not the client's).
    assert.equal((await tokenLogin(protocol, 'OAUTHBEARER', user, good, ip)).outcome, 'ok');
    assert.equal(await failures(`account:${patId}`), 0);
    assert.equal(await failures(`ip:${ip}`), bad.length);
  });
}

test('bad tokens lock the account across protocols; then even a valid token is refused', async () => {
  const user = 'lee@example.test';
  const expired = await issuer.sign(
    { email: user, aud: AUDIENCE },
    { expiresIn: Math.floor(Date.now() / 1000) - 600 },
  );
  // Default threshold 10, from ten client addresses over the three protocols.
  for (let i = 0; i < 10; i++) {
    const [protocol] = protocols[i % protocols.length] as [Protocol, string];
    assert.equal(
      (await tokenLogin(protocol, 'XOAUTH2', user, expired, `127.0.2.${i + 1}`)).outcome,
      'failed',
    );
  }
  const good = await issuer.sign({ email: user, aud: AUDIENCE });
  for (const [protocol] of protocols)
    assert.equal(
      (await tokenLogin(protocol, 'OAUTHBEARER', user, good, '127.0.3.1')).outcome,
      'locked',
      protocol,
    );
});

test('the JWKS is cached: many logins fetch it at most once per service and unknown kid', async () => {
  assert.ok(issuer.jwksFetches >= 2, 'msa and imap each fetched it');
  assert.ok(issuer.jwksFetches <= 6, `fetched ${issuer.jwksFetches} times`);
});
