import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { domainOfAddress } from '../src/address-domain.js';
import { AddressError, parseAddress } from '../src/parse-address.js';

test('canonical form: lower-case local part, lower-case A-label domain', () => {
  assert.deepEqual(parseAddress('John.Doe@Example.COM'), {
    localPart: 'John.Doe',
    domain: 'example.com',
    canonical: 'john.doe@example.com',
  });
  assert.equal(parseAddress('user@b\u00fccher.example').domain, 'xn--bcher-kva.example');
  assert.equal(parseAddress('"plain.atom"@example.com').canonical, 'plain.atom@example.com');
});

test('ambiguous and relay forms are refused with a specific code', () => {
  const cases: Array<[string, string]> = [
    ['', 'empty'],
    ['@relay.example:user@example.com', 'source-route'],
    ['user%other.example@example.com', 'routing-characters'],
    ['a!b@example.com', 'routing-characters'],
    ['"a@evil.example"@example.com', 'bad-local-part'],
    ['"a b"@example.com', 'bad-local-part'],
    ['user@[127.0.0.1]', 'address-literal'],
    ['user@example', 'bad-domain'],
    ['user@exa_mple.com', 'bad-domain'],
    ['user@1.2.3.4', 'bad-domain'],
    ['us\r\ner@example.com', 'control-character'],
    ['noat.example.com', 'missing-at'],
    [`${'a'.repeat(65)}@example.com`, 'too-long'],
    ['.dot@example.com', 'bad-local-part'],
    ['a..b@example.com', 'bad-local-part'],
  ];
  for (const [input, code] of cases) {
    assert.throws(
      () => parseAddress(input),
      (e: unknown) => e instanceof AddressError && e.code === code,
      `${JSON.stringify(input)} -> ${code}`,
    );
  }
});

test('property: parsing never throws anything but AddressError, and canonical forms are fixed points', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (input) => {
      try {
        const parsed = parseAddress(input);
        assert.equal(parseAddress(parsed.canonical).canonical, parsed.canonical);
      } catch (error) {
        assert.ok(error instanceof AddressError, String(error));
      }
    }),
    { numRuns: 2_000 },
  );
});

test('property: a long run of dots and quotes parses in bounded time', () => {
  const started = Date.now();
  for (const input of ['"'.repeat(100_000), `${'.'.repeat(100_000)}@x.com`, `a@${'a.'.repeat(50_000)}com`]) {
    assert.throws(() => parseAddress(input));
  }
  assert.ok(Date.now() - started < 1_000);
});

test('domainOfAddress: what follows the last @, in lower case, as configuration is keyed', () => {
  assert.equal(domainOfAddress('User@Example.TEST'), 'example.test');
  assert.equal(domainOfAddress('"a@b"@example.test'), 'example.test');
  assert.equal(domainOfAddress('example.test'), 'example.test');
});
