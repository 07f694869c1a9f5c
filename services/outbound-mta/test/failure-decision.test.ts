import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodemailerError } from 'nodemailer/lib/errors';
import { decideFailure } from '../src/delivery/attempt.js';
import {
  asDeliveryFailure,
  DependencyError,
  LocalError,
  NetworkError,
  ProtocolError,
  ReplyError,
  TlsError,
} from '../src/delivery/errors.js';
import type { RoutePlan } from '../src/delivery/plan-route.js';
import { nodemailerFailure } from '../src/delivery/smtp-session.js';
import { DestinationError } from '../src/dns/resolve-destination.js';

const plan = (requireTls: boolean, policy?: string): RoutePlan => ({
  hosts: [],
  requireTls,
  verifyTls: requireTls,
  policy,
});
const host = 'mx.example.org[192.0.2.1]:25';
const nodemailerError = (fields: Partial<NodemailerError>): NodemailerError =>
  Object.assign(new Error(fields.message ?? 'failed'), fields) as NodemailerError;

describe('failure kinds', () => {
  it('a programming error is a local fault: held, never "connection lost"', () => {
    const failure = asDeliveryFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
    assert.ok(failure instanceof LocalError);
    assert.equal(failure.code, 'LOCAL');
    const decision = decideFailure(failure, 'transaction', plan(false), host);
    assert.equal(decision.action, 'hold');
    assert.match(decision.action === 'hold' ? decision.reason : '', /^local error \(LOCAL\): TypeError: /);
  });

  it('the network defers: 4.4.1 before a session, 4.4.2 during a transaction', () => {
    assert.deepEqual(decideFailure(new NetworkError('ECONNREFUSED'), 'connect', plan(false), host), {
      action: 'record',
      kind: 'deferred',
      status: '4.4.1',
      reply: `${host}: ECONNREFUSED`,
    });
    assert.deepEqual(decideFailure(new NetworkError('reset'), 'transaction', plan(false), host), {
      action: 'record',
      kind: 'deferred',
      status: '4.4.2',
      reply: `connection to ${host} lost: reset`,
    });
  });

  it('TLS under a policy defers with 4.7.5 and says so; without one it is a connection failure', () => {
    const tls = new TlsError('certificate has expired');
    const decision = decideFailure(tls, 'connect', plan(true, 'mta-sts enforce'), host);
    assert.equal(decision.action === 'record' && decision.status, '4.7.5');
    assert.match(decision.action === 'record' ? decision.reply : '', /^TLS required \(mta-sts enforce\)/);
    assert.equal(decideFailure(tls, 'connect', plan(false), host).action === 'record', true);
    assert.equal((decideFailure(tls, 'connect', plan(false), host) as { status: string }).status, '4.4.1');
  });

  it('our own store failing leaves the lease; DNS answers decide for themselves', () => {
    assert.deepEqual(
      decideFailure(new DependencyError('database', 'down'), 'prepare', undefined, undefined),
      {
        action: 'lease',
      },
    );
    const nullMx = new DestinationError('NULL_MX', true, '5.1.10', 'example.org has a null MX');
    assert.deepEqual(decideFailure(nullMx, 'route', undefined, undefined), {
      action: 'record',
      kind: 'failed',
      status: '5.1.10',
      reply: 'example.org has a null MX',
    });
  });

  it("nodemailer's errors get their kind from code, originalCode and responseCode, not from text", () => {
    assert.ok(
      nodemailerFailure(nodemailerError({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' })) instanceof
        NetworkError,
    );
    assert.ok(nodemailerFailure(nodemailerError({ code: 'ETIMEDOUT' })) instanceof NetworkError);
    assert.ok(
      nodemailerFailure(nodemailerError({ code: 'ECONNRESET', syscall: 'read' })) instanceof NetworkError,
    );
    assert.ok(
      nodemailerFailure(
        nodemailerError({ code: 'ESOCKET', originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
      ) instanceof TlsError,
    );
    // A refused STARTTLS carries a reply, and is still a TLS failure.
    assert.ok(
      nodemailerFailure(
        nodemailerError({ code: 'ETLS', response: '502 5.5.1 no', responseCode: 502 }),
      ) instanceof TlsError,
    );
    const reply = nodemailerFailure(
      nodemailerError({ code: 'EENVELOPE', response: '550 5.7.1 sender\r\n refused', responseCode: 550 }),
    );
    assert.ok(reply instanceof ReplyError);
    assert.equal(reply.replyCode, 550);
    assert.equal(reply.reply, '550 5.7.1 sender refused');
    assert.ok(nodemailerFailure(nodemailerError({ code: 'EPROTOCOL' })) instanceof ProtocolError);
    // nodemailer refusing our own call (no reply from anyone) is a fault of ours.
    assert.ok(
      nodemailerFailure(nodemailerError({ code: 'EENVELOPE', command: 'API' })) instanceof LocalError,
    );
  });
});
