import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DnsResolver } from '../src/dns/resolve-destination.js';
import { MtaStsCache, mxMatchesPolicy, parseMtaStsPolicy } from '../src/tls/mta-sts.js';

const policyText = (maxAge: number) =>
  `version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: ${maxAge}\r\n`;

/** A fake resolver serving one _mta-sts TXT record per domain (unit tests only). */
function txtResolver(records: Map<string, string>): DnsResolver {
  const nodata = () => Promise.reject(Object.assign(new Error('ENODATA'), { code: 'ENODATA' }));
  return {
    resolveMx: nodata,
    resolve4: nodata,
    resolve6: nodata,
    resolveTxt: async (name) => {
      const text = records.get(name);
      if (text === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
      return [[text]];
    },
  };
}

function setup(maxAge = 3600) {
  const txt = new Map([['_mta-sts.example.org', 'v=STSv1; id=one']]);
  let clock = 1_000_000;
  const fetches: string[] = [];
  let fail = false;
  const cache = new MtaStsCache(
    txtResolver(txt),
    async (domain) => {
      fetches.push(domain);
      if (fail) throw new Error('policy host unreachable');
      return policyText(maxAge);
    },
    () => clock,
  );
  return {
    cache,
    txt,
    fetches,
    advance: (ms: number) => {
      clock += ms;
    },
    failFetches: () => {
      fail = true;
    },
  };
}

describe('MtaStsCache', () => {
  it('fetches once and serves later deliveries from the cache within max_age', async () => {
    const t = setup(3600);
    const first = await t.cache.policyFor('example.org');
    assert.equal(first?.mode, 'enforce');
    assert.deepEqual(first?.mx, ['mx.example.org']);
    t.advance(3_599_000);
    const second = await t.cache.policyFor('example.org');
    assert.equal(second, first);
    assert.deepEqual(t.fetches, ['example.org'], 'the second delivery fetched the policy again');
  });

  it('fetches again once max_age has passed', async () => {
    const t = setup(60);
    await t.cache.policyFor('example.org');
    t.advance(60_000);
    const again = await t.cache.policyFor('example.org');
    assert.equal(again?.mode, 'enforce');
    assert.equal(t.fetches.length, 2);
  });

  it('fetches again at once when the TXT record announces a new policy id', async () => {
    const t = setup(3600);
    await t.cache.policyFor('example.org');
    t.txt.set('_mta-sts.example.org', 'v=STSv1; id=two');
    const updated = await t.cache.policyFor('example.org');
    assert.equal(updated?.id, 'two');
    assert.equal(t.fetches.length, 2);
  });

  it('keeps the cached policy when a refetch fails, until it expires', async () => {
    const t = setup(3600);
    const first = await t.cache.policyFor('example.org');
    t.txt.set('_mta-sts.example.org', 'v=STSv1; id=two');
    t.failFetches();
    assert.equal(await t.cache.policyFor('example.org'), first);
    t.advance(3_600_000);
    assert.equal(await t.cache.policyFor('example.org'), undefined);
  });

  it('keeps the cached policy when the TXT record cannot be looked up', async () => {
    const t = setup(3600);
    const first = await t.cache.policyFor('example.org');
    t.txt.delete('_mta-sts.example.org');
    assert.equal(await t.cache.policyFor('example.org'), first);
    assert.equal(t.fetches.length, 1);
  });
});

describe('MTA-STS policy text and MX matching', () => {
  it('parses a valid policy and refuses invalid ones', () => {
    const policy = parseMtaStsPolicy(
      'version: STSv1\r\nmode: enforce\r\nmx: MX1.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n',
      'id1',
      5,
    );
    assert.deepEqual(policy, {
      mode: 'enforce',
      mx: ['mx1.example.org', '*.example.net'],
      maxAgeSeconds: 604800,
      id: 'id1',
      fetchedAt: 5,
    });
    for (const text of [
      'version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n',
      'version: STSv1\nmode: sometimes\nmx: a.example\nmax_age: 1\n',
      'version: STSv1\nmode: enforce\nmax_age: 1\n',
      'version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n',
      '<html>not a policy</html>',
    ])
      assert.equal(parseMtaStsPolicy(text, 'id', 0), undefined, text);
  });

  it('a wildcard matches exactly one leftmost label (RFC 8461 §4.1)', () => {
    const policy = parseMtaStsPolicy(
      'version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 60\n',
      'i',
      0,
    )!;
    assert.equal(mxMatchesPolicy(policy, 'mx1.example.org'), true);
    assert.equal(mxMatchesPolicy(policy, 'MX1.example.org.'), true);
    assert.equal(mxMatchesPolicy(policy, 'a.b.example.org'), false);
    assert.equal(mxMatchesPolicy(policy, 'example.org'), false);
  });

  it('two v=STSv1 records mean no usable id: the cached policy stays, nothing is fetched', async () => {
    let answer: string[][] = [['v=STSv1; id=one']];
    const fetches: string[] = [];
    const cache = new MtaStsCache(
      { ...txtResolver(new Map()), resolveTxt: async () => answer },
      async (domain) => {
        fetches.push(domain);
        return policyText(3600);
      },
    );
    const first = await cache.policyFor('example.org');
    assert.equal(first?.id, 'one');
    answer = [['v=STSv1; id=two'], ['v=STSv1; id=three']];
    assert.equal(await cache.policyFor('example.org'), first);
    assert.deepEqual(fetches, ['example.org']);
  });
});
