import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadReplyClassifier } from '../src/delivery/classify.js';

// The bundled reply table (config/smtp-replies.json) on replies whose class RFC 5321 qualifies.
const classify = loadReplyClassifier();

describe('reply classification (bundled rule table)', () => {
  it('4xx defers and 5xx bounces, with the enhanced status from the reply', () => {
    assert.deepEqual(
      [classify(450, '450 4.2.1 try later'), classify(550, '550 5.1.1 no such user')].map((c) => [
        c.action,
        c.status,
      ]),
      [
        ['defer', '4.2.1'],
        ['bounce', '5.1.1'],
      ],
    );
  });

  // RFC 5321 section 4.5.3.1.10: a 552 to RCPT for too many recipients is a temporary failure.
  it('552 for too many recipients defers', () => {
    assert.equal(classify(552, '552 5.5.3 Error: too many recipients').action, 'defer');
    assert.equal(classify(552, '552 Too many recipients').action, 'defer');
  });

  it('552 for a message too large still bounces', () => {
    assert.equal(classify(552, '552 5.3.4 Error: message file too big').action, 'bounce');
  });
});
