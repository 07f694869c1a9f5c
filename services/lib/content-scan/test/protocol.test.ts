// clamd's replies and addresses as the client reads them, and the pipeline disposition of each
// malware verdict under the policies (mx reject/quarantine, fail closed/open, msa without a field).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { malwareDisposition, parseClamdAddress, parseClamdReply, ScanError } from '../src/index.js';

test('replies: OK, FOUND with the signature, size limit, other errors, garbage', () => {
  assert.deepEqual(parseClamdReply('stream: OK\0'), { status: 'clean' });
  assert.deepEqual(parseClamdReply('stream: Win.Test.EICAR_HDB-1 FOUND\0'), {
    status: 'infected',
    signature: 'Win.Test.EICAR_HDB-1',
  });
  const kind = (text: string) => {
    try {
      parseClamdReply(text);
    } catch (error) {
      return (error as ScanError).kind;
    }
    return 'none';
  };
  assert.equal(kind('INSTREAM size limit exceeded. ERROR\0'), 'size-limit');
  assert.equal(kind("stream: Can't allocate memory ERROR\0"), 'scanner');
  assert.equal(kind('HELLO\0'), 'protocol');
});

test('addresses: host:port, [v6]:port, unix socket path; anything else refused', () => {
  assert.deepEqual(parseClamdAddress('127.0.0.1:3310'), { host: '127.0.0.1', port: 3310 });
  assert.deepEqual(parseClamdAddress('[::1]:3310'), { host: '::1', port: 3310 });
  assert.deepEqual(parseClamdAddress('/run/clamav/clamd.ctl'), { path: '/run/clamav/clamd.ctl' });
  assert.throws(() => parseClamdAddress('clamd'));
});

test('dispositions under each policy', () => {
  const mx = { onInfected: 'reject', onFailure: 'tempfail', host: 'mx.example.test' } as const;
  assert.deepEqual(malwareDisposition({ status: 'clean' }, mx), {
    action: 'accept',
    headers: 'X-Virus-Scanned: ClamAV at mx.example.test; result=clean\r\n',
  });
  assert.deepEqual(malwareDisposition({ status: 'infected', signature: 'Bad.Sig\r\nX: y' }, mx), {
    action: 'reject',
    code: 554,
    status: '5.7.1',
    text: 'Message refused: malware found (Bad.SigX:y)',
    reason: 'malware',
  });
  const held = malwareDisposition(
    { status: 'infected', signature: 'Bad.Sig' },
    { ...mx, onInfected: 'quarantine' },
  );
  assert.equal(held.action, 'quarantine');
  assert.equal(held.action === 'quarantine' && held.rule, 'Bad.Sig');
  const down = { status: 'failed', error: new ScanError('timeout', 'slow') } as const;
  assert.equal(malwareDisposition(down, mx).action, 'tempfail');
  assert.deepEqual(malwareDisposition(down, { ...mx, onFailure: 'open' }), {
    action: 'accept',
    headers: 'X-Virus-Scanned: ClamAV at mx.example.test; result=unscanned (scanner timeout)\r\n',
  });
  assert.deepEqual(malwareDisposition({ status: 'clean' }, { onInfected: 'reject', onFailure: 'open' }), {
    action: 'accept',
    headers: '',
  });
});
