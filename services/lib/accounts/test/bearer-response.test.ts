import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBearerResponse } from '../src/oidc.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

test('OAUTHBEARER: gs2 header with or without a=, then auth=Bearer (RFC 7628 3.1)', () => {
  assert.deepEqual(
    decodeBearerResponse('OAUTHBEARER', b64('n,a=ann@example.test,\x01auth=Bearer abc.def-_~+/=\x01\x01')),
    {
      user: 'ann@example.test',
      token: 'abc.def-_~+/=',
    },
  );
  assert.deepEqual(
    decodeBearerResponse('OAUTHBEARER', b64('n,,\x01host=mail\x01port=993\x01auth=Bearer t0k\x01\x01')),
    { user: undefined, token: 't0k' },
  );
  assert.equal(decodeBearerResponse('OAUTHBEARER', b64('n,a=x,\x01\x01')), undefined, 'no token');
  assert.equal(
    decodeBearerResponse('OAUTHBEARER', b64('p=tls-unique,,\x01auth=Bearer t\x01\x01')),
    undefined,
    'channel binding',
  );
  assert.equal(decodeBearerResponse('OAUTHBEARER', 'not base64!'), undefined);
});

test('XOAUTH2: user= and auth=Bearer', () => {
  assert.deepEqual(decodeBearerResponse('XOAUTH2', b64('user=ann@example.test\x01auth=Bearer t0k\x01\x01')), {
    user: 'ann@example.test',
    token: 't0k',
  });
  assert.equal(
    decodeBearerResponse('XOAUTH2', b64('user=ann@example.test\x01auth=Basic abc\x01\x01')),
    undefined,
  );
});
