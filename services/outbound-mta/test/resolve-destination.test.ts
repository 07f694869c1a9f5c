import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DestinationError, type DnsResolver, resolveDestination } from '../src/dns/resolve-destination.js';

const dnsError = (code: string) => Object.assign(new Error(code), { code });

/** A fake resolver over a record table (unit tests only; integration tests use a real DNS server). */
function fakeResolver(zone: {
  mx?: Record<string, Array<{ exchange: string; priority: number }> | string>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
}): DnsResolver {
  const lookup = async <T>(table: Record<string, T | string> | undefined, name: string): Promise<T> => {
    const v = table?.[name];
    if (v === undefined) throw dnsError('ENODATA');
    if (typeof v === 'string') throw dnsError(v);
    return v;
  };
  return {
    resolveMx: (n) => lookup(zone.mx, n),
    resolve4: (n) => lookup(zone.a, n),
    resolve6: (n) => lookup(zone.aaaa, n),
    resolveTxt: async () => [],
  };
}

describe('resolveDestination', () => {
  it('orders MX hosts by preference and tries every address of a host', async () => {
    const resolver = fakeResolver({
      mx: {
        'example.org': [
          { exchange: 'mx2.example.org', priority: 20 },
          { exchange: 'mx1.example.org', priority: 10 },
        ],
      },
      a: { 'mx1.example.org': ['192.0.2.1', '192.0.2.2'], 'mx2.example.org': ['192.0.2.3'] },
      aaaa: { 'mx1.example.org': ['2001:db8::1'] },
    });
    const hosts = await resolveDestination({ resolver, domain: 'example.org', smtpPort: 25 });
    assert.deepEqual(
      hosts.map((h) => [h.name, h.addresses, h.fromMx]),
      [
        ['mx1.example.org', ['192.0.2.1', '192.0.2.2', '2001:db8::1'], true],
        ['mx2.example.org', ['192.0.2.3'], true],
      ],
    );
  });

  it('shuffles hosts of equal preference', async () => {
    const resolver = fakeResolver({
      mx: {
        'example.org': [
          { exchange: 'a.example.org', priority: 10 },
          { exchange: 'b.example.org', priority: 10 },
          { exchange: 'c.example.org', priority: 5 },
        ],
      },
      a: { 'a.example.org': ['192.0.2.1'], 'b.example.org': ['192.0.2.2'], 'c.example.org': ['192.0.2.3'] },
    });
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const hosts = await resolveDestination({ resolver, domain: 'example.org', smtpPort: 25 });
      assert.equal(hosts[0]?.name, 'c.example.org');
      seen.add(hosts.map((h) => h.name).join(','));
    }
    assert.deepEqual([...seen].sort(), [
      'c.example.org,a.example.org,b.example.org',
      'c.example.org,b.example.org,a.example.org',
    ]);
  });

  it('falls back to the implicit MX (the domain A record) when there is no MX', async () => {
    const resolver = fakeResolver({ a: { 'example.org': ['192.0.2.9'] } });
    const hosts = await resolveDestination({ resolver, domain: 'example.org', smtpPort: 2525 });
    assert.deepEqual(
      hosts.map((h) => [h.name, h.addresses, h.port, h.fromMx]),
      [['example.org', ['192.0.2.9'], 2525, false]],
    );
  });

  it('the implicit MX may have only an AAAA record', async () => {
    const resolver = fakeResolver({ aaaa: { 'example.org': ['2001:db8::9'] } });
    const hosts = await resolveDestination({ resolver, domain: 'example.org', smtpPort: 25 });
    assert.deepEqual(
      hosts.map((h) => [h.name, h.addresses, h.fromMx]),
      [['example.org', ['2001:db8::9'], false]],
    );
  });

  it('a null MX fails without any address lookup (RFC 7505 section 3)', async () => {
    const looked: string[] = [];
    const resolver = fakeResolver({
      mx: { 'example.org': [{ exchange: '', priority: 0 }] },
      a: { 'example.org': ['192.0.2.9'] },
    });
    const watching = {
      ...resolver,
      resolve4: (n: string) => {
        looked.push(n);
        return resolver.resolve4(n);
      },
      resolve6: (n: string) => {
        looked.push(n);
        return resolver.resolve6(n);
      },
    };
    await assert.rejects(resolveDestination({ resolver: watching, domain: 'example.org', smtpPort: 25 }));
    assert.deepEqual(looked, []);
  });

  // RFC 5321 section 5.1: an MX's data is a domain name, and MX records none of which is usable
  // are an error, not something to wait for.
  it('an MX whose exchange is an IP address is not used; none usable is a permanent failure', async () => {
    const resolver = fakeResolver({
      mx: {
        'example.org': [
          { exchange: '192.0.2.7', priority: 5 },
          { exchange: 'mx.example.org', priority: 10 },
        ],
        'numeric.example': [{ exchange: '192.0.2.7', priority: 10 }],
        'nowhere.example': [{ exchange: 'mx.nowhere.example', priority: 10 }],
      },
      a: { 'mx.example.org': ['192.0.2.1'] },
    });
    const hosts = await resolveDestination({ resolver, domain: 'example.org', smtpPort: 25 });
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['mx.example.org'],
    );
    for (const domain of ['numeric.example', 'nowhere.example'])
      await assert.rejects(
        resolveDestination({ resolver, domain, smtpPort: 25 }),
        (e: unknown) => e instanceof DestinationError && e.permanent && e.status === '5.4.4',
        domain,
      );
  });

  it('treats a null MX as a permanent failure', async () => {
    const resolver = fakeResolver({
      mx: { 'example.org': [{ exchange: '', priority: 0 }] },
      a: { 'example.org': ['192.0.2.9'] },
    });
    await assert.rejects(
      resolveDestination({ resolver, domain: 'example.org', smtpPort: 25 }),
      (e: unknown) =>
        e instanceof DestinationError && e.code === 'NULL_MX' && e.permanent && e.status === '5.1.10',
    );
  });

  it('a domain that does not exist is permanent, a DNS failure temporary', async () => {
    await assert.rejects(
      resolveDestination({
        resolver: fakeResolver({ mx: { 'gone.example': 'ENOTFOUND' } }),
        domain: 'gone.example',
        smtpPort: 25,
      }),
      (e: unknown) => e instanceof DestinationError && e.permanent,
    );
    await assert.rejects(
      resolveDestination({
        resolver: fakeResolver({ mx: { 'example.org': 'ESERVFAIL' } }),
        domain: 'example.org',
        smtpPort: 25,
      }),
      (e: unknown) => e instanceof DestinationError && !e.permanent && e.code === 'DNS_TEMPORARY',
    );
  });

  it('uses overrides instead of DNS, with their ports, and skips excluded MX names', async () => {
    const resolver = fakeResolver({
      mx: {
        'example.org': [
          { exchange: 'us.example.net', priority: 5 },
          { exchange: 'primary.example.org', priority: 10 },
        ],
      },
      a: {
        'relay.example.net': ['192.0.2.7'],
        'primary.example.org': ['192.0.2.8'],
        'us.example.net': ['192.0.2.1'],
      },
    });
    const viaOverride = await resolveDestination({
      resolver,
      domain: 'example.org',
      smtpPort: 25,
      overrides: [
        { host: 'relay.example.net', port: 2526, preference: 10 },
        { host: '[192.0.2.50]', port: 2527, preference: 20 },
      ],
    });
    assert.deepEqual(
      viaOverride.map((h) => [h.name, h.addresses, h.port]),
      [
        ['relay.example.net', ['192.0.2.7'], 2526],
        ['[192.0.2.50]', ['192.0.2.50'], 2527],
      ],
    );
    const excluded = await resolveDestination({
      resolver,
      domain: 'example.org',
      smtpPort: 25,
      exclude: ['US.example.net.'],
    });
    assert.deepEqual(
      excluded.map((h) => h.name),
      ['primary.example.org'],
    );
  });
});
