// Client autoconfiguration (Thunderbird autoconfig, Microsoft Autodiscover POX, Apple configuration
// profile): real routing service over real nats-server and PostgreSQL, real HTTP requests to its
// MTA-STS/autoconfig listener; every answer is checked by parsing its XML.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { eventually, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

let hermod: HermodPlatform;

before(async () => {
  hermod = await startHermod({ services: ['routing'] });
  await hermod.addDomain('auto.example');
  await hermod.addDomain('custom.example', {
    clients: {
      host: 'imap.provider.example',
      ports: { imap: 0, pop3s: 0, submissions: 0, submission: 2587 },
    },
  });
});

after(async () => {
  await hermod?.stop();
});

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(options: {
  host: string;
  path: string;
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: hermod.ports.mtaSts,
        path: options.path,
        method: options.method ?? 'GET',
        headers: { host: options.host, ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });
function parseXml(body: string): Record<string, unknown> {
  assert.equal(XMLValidator.validate(body), true, `well-formed XML:\n${body}`);
  return parser.parse(body) as Record<string, unknown>;
}
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface TbServer {
  '@type': string;
  hostname: string;
  port: string;
  socketType: string;
  username: string;
}

test('Thunderbird autoconfig: both paths, the domain host names and well-known ports', async () => {
  for (const [host, path] of [
    ['autoconfig.auto.example', '/mail/config-v1.1.xml?emailaddress=anyone%40auto.example'],
    ['auto.example', '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=anyone%40auto.example'],
    ['AutoConfig.Auto.Example:443', '/mail/config-v1.1.xml'],
  ] as const) {
    const r = await http({ host, path });
    assert.equal(r.status, 200, `${host}${path}`);
    assert.match(String(r.headers['content-type']), /^application\/xml\b/);
    const doc = parseXml(r.body) as {
      clientConfig: {
        '@version': string;
        emailProvider: {
          '@id': string;
          domain: string;
          incomingServer: TbServer | TbServer[];
          outgoingServer: TbServer | TbServer[];
        };
      };
    };
    assert.equal(doc.clientConfig['@version'], '1.1');
    const provider = doc.clientConfig.emailProvider;
    assert.equal(provider['@id'], 'auto.example');
    assert.equal(provider.domain, 'auto.example');
    const summary = (s: TbServer) => `${s['@type']} ${s.hostname}:${s.port} ${s.socketType} ${s.username}`;
    assert.deepEqual(asArray(provider.incomingServer).map(summary), [
      'imap mail.auto.example:993 SSL %EMAILADDRESS%',
      'imap mail.auto.example:143 STARTTLS %EMAILADDRESS%',
      'pop3 mail.auto.example:995 SSL %EMAILADDRESS%',
    ]);
    assert.deepEqual(asArray(provider.outgoingServer).map(summary), [
      'smtp mail.auto.example:465 SSL %EMAILADDRESS%',
      'smtp mail.auto.example:587 STARTTLS %EMAILADDRESS%',
    ]);
  }
});

test('a domain with its own client host and ports: only the offered services, on its ports', async () => {
  const r = await http({ host: 'autoconfig.custom.example', path: '/mail/config-v1.1.xml' });
  assert.equal(r.status, 200);
  const provider = (parseXml(r.body).clientConfig as { emailProvider: Record<string, unknown> })
    .emailProvider;
  const servers = [...asArray(provider.incomingServer), ...asArray(provider.outgoingServer)] as TbServer[];
  assert.deepEqual(
    servers.map((s) => `${s['@type']} ${s.hostname}:${s.port} ${s.socketType}`),
    ['imap imap.provider.example:993 SSL', 'smtp imap.provider.example:2587 STARTTLS'],
  );
});

test('the settings follow the live domain config', async () => {
  await hermod.addDomain('moving.example');
  const first = await http({ host: 'autoconfig.moving.example', path: '/mail/config-v1.1.xml' });
  assert.match(first.body, /<hostname>mail\.moving\.example<\/hostname>/);
  await hermod.addDomain('moving.example', { clients: { host: 'mx.moved.example' } });
  await eventually('the new host name is served', async () => {
    const r = await http({ host: 'autoconfig.moving.example', path: '/mail/config-v1.1.xml' });
    return /<hostname>mx\.moved\.example<\/hostname>/.test(r.body) || undefined;
  });
});

const autodiscoverRequest = (
  address: string,
  schema = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
) =>
  `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>${schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;

interface AdProtocol {
  Type: string;
  Server: string;
  Port: string;
  LoginName: string;
  SSL?: string;
  Encryption?: string;
}

test('Autodiscover POX: IMAP, POP3 and SMTP for the address, login name the address', async () => {
  const r = await http({
    host: 'autodiscover.auto.example',
    path: '/autodiscover/autodiscover.xml',
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: autodiscoverRequest('Jane.Doe@auto.example'),
  });
  assert.equal(r.status, 200, r.body);
  const doc = parseXml(r.body) as {
    Autodiscover: {
      '@xmlns': string;
      Response: {
        '@xmlns': string;
        Account: { AccountType: string; Action: string; Protocol: AdProtocol[] };
      };
    };
  };
  assert.equal(
    doc.Autodiscover['@xmlns'],
    'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
  );
  const { Account } = doc.Autodiscover.Response;
  assert.equal(Account.AccountType, 'email');
  assert.equal(Account.Action, 'settings');
  assert.deepEqual(
    Account.Protocol.map((p) => `${p.Type} ${p.Server}:${p.Port} ${p.LoginName} ssl=${p.SSL ?? '-'}`),
    [
      'IMAP mail.auto.example:993 Jane.Doe@auto.example ssl=on',
      'POP3 mail.auto.example:995 Jane.Doe@auto.example ssl=on',
      'SMTP mail.auto.example:465 Jane.Doe@auto.example ssl=on',
    ],
  );
  // STARTTLS-only submission is announced as Encryption TLS.
  const custom = await http({
    host: 'autodiscover.custom.example',
    path: '/autodiscover/autodiscover.xml',
    method: 'POST',
    body: autodiscoverRequest('x@custom.example'),
  });
  const protocols = asArray(
    (
      parseXml(custom.body) as {
        Autodiscover: { Response: { Account: { Protocol: AdProtocol | AdProtocol[] } } };
      }
    ).Autodiscover.Response.Account.Protocol,
  );
  assert.deepEqual(
    protocols.map((p) => `${p.Type} ${p.Port} ${p.SSL ?? '-'} ${p.Encryption ?? '-'}`),
    ['IMAP 993 on -', 'SMTP 2587 - TLS'],
  );
});

test('Autodiscover refuses hostile or oversized requests and wrong methods', async () => {
  const post = (body: string | Buffer, headers?: Record<string, string>) =>
    http({
      host: 'autodiscover.auto.example',
      path: '/autodiscover/autodiscover.xml',
      method: 'POST',
      body,
      headers,
    });
  // An entity-expansion bomb is refused before any expansion.
  const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Autodiscover><Request><EMailAddress>&lol2;@auto.example</EMailAddress></Request></Autodiscover>`;
  assert.equal((await post(bomb)).status, 400);
  // External entities likewise.
  const xxe = `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>`;
  const xxeReply = await post(xxe);
  assert.equal(xxeReply.status, 400);
  assert.doesNotMatch(xxeReply.body, /root:/);
  assert.equal((await post('<Autodiscover><Request>')).status, 400, 'malformed');
  assert.equal((await post('<Autodiscover><Request></Request></Autodiscover>')).status, 400, 'no address');
  // Over the 16 KiB limit: 413, by declared length and by streamed length.
  const big = autodiscoverRequest(`${'a'.repeat(20_000)}@auto.example`);
  assert.equal((await post(big)).status, 413);
  assert.equal((await post(big, { 'transfer-encoding': 'chunked' })).status, 413);
  // Only the Outlook schema is answered (ActiveSync's mobilesync is not).
  const mobilesync = autodiscoverRequest(
    'a@auto.example',
    'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006',
  );
  assert.equal((await post(mobilesync)).status, 404);
  const get = await http({ host: 'autodiscover.auto.example', path: '/autodiscover/autodiscover.xml' });
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST');
});

test('Apple configuration profile: an unsigned plist with one mail account for the address', async () => {
  const r = await http({
    host: 'autoconfig.auto.example',
    path: '/mail.mobileconfig?emailaddress=jane%40auto.example',
  });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['content-type'], 'application/x-apple-aspen-config');
  const doc = parseXml(r.body) as { plist: { '@version': string } };
  assert.equal(doc.plist['@version'], '1.0');
  const top = parsePlist(r.body);
  assert.equal(top.PayloadType, 'Configuration');
  const content = top.PayloadContent as Array<Record<string, unknown>>;
  assert.equal(content.length, 1);
  const account = content[0]!;
  assert.equal(account.PayloadType, 'com.apple.mail.managed');
  assert.equal(account.EmailAddress, 'jane@auto.example');
  assert.equal(account.EmailAccountType, 'EmailTypeIMAP');
  assert.equal(account.IncomingMailServerHostName, 'mail.auto.example');
  assert.equal(account.IncomingMailServerPortNumber, '993');
  assert.equal(account.IncomingMailServerUsername, 'jane@auto.example');
  assert.equal(account.IncomingMailServerUseSSL, true);
  assert.equal(account.OutgoingMailServerPortNumber, '465');
  assert.equal(account.OutgoingPasswordSameAsIncomingPassword, true);
  assert.match(
    String(account.PayloadUUID),
    /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-A[0-9A-F]{3}-[0-9A-F]{12}$/,
  );
  // The same address gets the same profile (same UUIDs): reinstalling replaces it.
  const again = await http({
    host: 'autoconfig.auto.example',
    path: '/mail.mobileconfig?emailaddress=jane%40auto.example',
  });
  assert.equal(again.body, r.body);
  const missing = await http({ host: 'autoconfig.auto.example', path: '/mail.mobileconfig' });
  assert.equal(missing.status, 400);
});

type OrderedNode = Record<string, unknown>;
const orderedParser = new XMLParser({ preserveOrder: true, parseTagValue: false });
const tagOf = (node: OrderedNode) => Object.keys(node).find((k) => k !== ':@') ?? '';
const textOf = (node: OrderedNode) =>
  ((node[tagOf(node)] as Array<{ '#text'?: string }>)[0]?.['#text'] ?? '').toString();

/** A property list value read in document order (dict keys pair with the value after them). */
function plistValue(node: OrderedNode): unknown {
  const tag = tagOf(node);
  const children = node[tag] as OrderedNode[];
  switch (tag) {
    case 'dict': {
      const out: Record<string, unknown> = {};
      let key: string | undefined;
      for (const child of children) {
        if (tagOf(child) === 'key') key = textOf(child);
        else if (key !== undefined) out[key] = plistValue(child);
      }
      return out;
    }
    case 'array':
      return children.map(plistValue);
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      return textOf(node);
  }
}

function parsePlist(body: string): Record<string, unknown> {
  const nodes = orderedParser.parse(body) as OrderedNode[];
  const plist = nodes.find((n) => tagOf(n) === 'plist');
  assert.ok(plist, 'a <plist> element');
  const dict = (plist.plist as OrderedNode[]).find((n) => tagOf(n) === 'dict');
  assert.ok(dict, 'a top-level <dict>');
  return plistValue(dict) as Record<string, unknown>;
}

test('unknown domains get 404 on every path; nothing depends on whether an account exists', async () => {
  const unknown = [
    await http({ host: 'autoconfig.unknown.example', path: '/mail/config-v1.1.xml' }),
    await http({ host: 'unknown.example', path: '/.well-known/autoconfig/mail/config-v1.1.xml' }),
    await http({
      host: 'autodiscover.auto.example',
      path: '/autodiscover/autodiscover.xml',
      method: 'POST',
      body: autodiscoverRequest('someone@unknown.example'),
    }),
    await http({
      host: 'autoconfig.auto.example',
      path: '/mail.mobileconfig?emailaddress=a%40unknown.example',
    }),
  ];
  assert.deepEqual(
    unknown.map((r) => r.status),
    [404, 404, 404, 404],
  );
  // No account exists in the accounts store at all: two served addresses get equal answers but for the address.
  const a = await http({
    host: 'autoconfig.auto.example',
    path: '/mail.mobileconfig?emailaddress=a%40auto.example',
  });
  const b = await http({
    host: 'autoconfig.auto.example',
    path: '/mail.mobileconfig?emailaddress=b%40auto.example',
  });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  // The MTA-STS policy path still answers from the same listener.
  assert.equal((await http({ host: 'mta-sts.auto.example', path: '/.well-known/mta-sts.txt' })).status, 404);
});
