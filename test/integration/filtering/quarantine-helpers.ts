// What the quarantine tests share: a held message for the store, and a recipient's view of the
// platform over IMAP (messages of a mailbox, a keyword set or taken off) and a sender's (swaks).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { QuarantineRequest } from '@hermod/smtp';
import { run } from '@hermod/test/harness';
import { ImapFlow } from 'imapflow';

/** A rules file (POLICY_RULES_FILE) that holds every message whose subject says "purchase order". */
export const HOLD_PURCHASE_ORDERS = `
rules:
  - name: hold-purchase-orders
    all:
      - subject: { contains: [purchase order] }
    action: { quarantine: purchase orders are checked by hand }
`;

/** A message held for recipients, as the accept pipeline hands it to the quarantine store. */
export function heldMessage(
  recipients: string[],
  subject = 'held',
  kind: QuarantineRequest['kind'] = 'policy',
): QuarantineRequest {
  const body = Buffer.from(`From: Eve <eve@remote.example>\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
  return {
    spoolId: randomUUID(),
    mailFrom: 'eve@remote.example',
    recipients,
    source: 'mx',
    clientAddress: '192.0.2.7',
    clientHelo: 'remote.example',
    kind,
    reason: kind === 'malware' ? 'Eicar-Test-Signature' : 'rule block-exe',
    rule: kind === 'malware' ? 'Eicar-Test-Signature' : 'block-exe',
    envelope: { tls: false },
    body: async function* () {
      yield body;
    },
  };
}

export interface ImapLogin {
  port: number;
  user: string;
  pass: string;
}

export async function withImap<T>(login: ImapLogin, work: (imap: ImapFlow) => Promise<T>): Promise<T> {
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: login.port,
    secure: false,
    doSTARTTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: login.user, pass: login.pass },
    logger: false,
  });
  await imap.connect();
  try {
    return await work(imap);
  } finally {
    await imap.logout();
  }
}

export interface Seen {
  uid: number;
  subject: string;
  source: string;
}

/** The messages of a mailbox, read over IMAP. */
export async function messagesIn(imap: ImapFlow, mailbox = 'INBOX'): Promise<Seen[]> {
  const lock = await imap.getMailboxLock(mailbox);
  try {
    const out: Seen[] = [];
    if (!imap.mailbox || imap.mailbox.exists === 0) return out;
    for await (const m of imap.fetch('1:*', { uid: true, envelope: true, source: true }))
      out.push({ uid: m.uid, subject: m.envelope?.subject ?? '', source: m.source?.toString() ?? '' });
    return out;
  } finally {
    lock.release();
  }
}

/** Sets (or with remove, takes off) a keyword on a message of the user's INBOX, over IMAP. */
export async function flagMessage(
  login: ImapLogin,
  uid: number,
  keyword: string,
  remove = false,
): Promise<void> {
  await withImap(login, async (imap) => {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const done = remove
        ? await imap.messageFlagsRemove(String(uid), [keyword], { uid: true })
        : await imap.messageFlagsAdd(String(uid), [keyword], { uid: true });
      assert.ok(done);
    } finally {
      lock.release();
    }
  });
}

/** Sends a message with swaks to the mx; returns the spool id of its 250. */
export async function swaksTo(mxPort: number, to: string[], subject: string, body: string): Promise<string> {
  const result = await run('swaks', [
    ...['--server', '127.0.0.1', '--port', String(mxPort)],
    ...['--from', 'buyer@remote.example', '--to', to.join(',')],
    ...['--header', `Subject: ${subject}`, '--body', body],
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const id = /<- {2}250 .*queued as ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
  assert.ok(id, result.stdout);
  return id;
}
