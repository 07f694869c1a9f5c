// The Sieve load both Sieve benches use (bench/sieve.ts delivers it in process, bench/delivery.ts
// over SMTP through mx, routing and mda): the scripts every recipient has and the message mix they
// are run on, so that the two measure the same rules matching the same mail.

/** A personal script as people write them: 20 rules filing lists, people and notices, a few flags. */
export const personalScript = `require ["fileinto", "imap4flags", "envelope", "subaddress", "mailbox", "relational",
  "comparator-i;ascii-numeric", "regex", "variables"];
if header :contains "list-id" "dev.lists.example" { fileinto :create "Lists/dev"; stop; }
if header :contains "list-id" "announce.lists.example" { fileinto :create "Lists/announce"; stop; }
if header :contains "list-id" "users.lists.example" { fileinto :create "Lists/users"; stop; }
if address :domain :is "from" "github.example" { fileinto :create "GitHub"; stop; }
if address :is "from" ["boss@corp.example", "ceo@corp.example"] { addflag "\\\\Flagged"; }
if header :contains "subject" ["invoice", "receipt", "payment"] { fileinto :create "Finance"; stop; }
if header :contains "subject" "[JIRA]" { fileinto :create "Tickets"; stop; }
if envelope :detail "to" "shop" { fileinto :create "Shopping"; stop; }
if envelope :detail "to" "news" { fileinto :create "News"; stop; }
if header :matches "subject" "*newsletter*" { fileinto :create "News"; stop; }
if exists "list-unsubscribe" { addflag "$Bulk"; }
if header :regex "subject" "^(re|fwd?): \\\\[ops\\\\]" { fileinto :create "Ops"; stop; }
if address :localpart :is "from" ["noreply", "no-reply", "donotreply"] { addflag "$Automated"; }
if header :contains "x-mailer" "Calendar" { fileinto :create "Calendar"; stop; }
if size :over 5M { addflag "$Large"; }
if header :is "x-priority" "1" { addflag "\\\\Flagged"; }
if address :domain :is "from" "family.example" { fileinto :create "Family"; stop; }
if header :contains "subject" "out of office" { discard; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto :create "Suspect"; stop; }
if allof (header :contains "from" "alerts@", header :contains "subject" "RESOLVED") { addflag "\\\\Seen"; fileinto :create "Alerts"; stop; }
`;
/** The domain's global before-script: a typical administrator's rule for every recipient. */
export const beforeScript = `require ["imap4flags", "fileinto", "mailbox"];
if header :contains "x-phishing-test" "yes" { addflag "$PhishingTest"; }
if address :domain :is "from" "quarantine.example" { fileinto :create "Quarantine"; stop; }
`;

const subjects = [
  'Meeting notes for Tuesday',
  'Re: lunch?',
  'Your invoice 4711',
  'Weekly newsletter: what is new',
  'Question about the release',
];
/** The MX's verdict, first in the header and (as the MX stores it since) in the spool envelope. */
export const spamStatus = 'No, score=1.20 required=15.00';
/**
 * Message n of the mix, 4 KiB: every 7th from a mailing list (filed to Lists/dev), every 5th an
 * invoice (Finance) or a newsletter (News), 13 senders; most mail matches no rule and stays in INBOX.
 */
export function messageFor(n: number, to: string): Buffer {
  const list =
    n % 7 === 0 ? 'List-Id: Developers <dev.lists.example>\r\nList-Unsubscribe: <mailto:u@x>\r\n' : '';
  const header =
    `Received: from client.example (client.example [192.0.2.1]) by mail.bench.test; Sun, 6 Dec 2026 21:00:00 +0000\r\n` +
    `From: Sender ${n % 13} <sender${n % 13}@remote.example>\r\nTo: <${to}>\r\n` +
    `Subject: ${subjects[n % subjects.length]} #${n}\r\nDate: Sun, 6 Dec 2026 21:00:00 +0000\r\n` +
    `Message-ID: <bench-${n}@remote.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `X-Spam-Status: ${spamStatus}\r\n${list}\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, and then some more words follow here.\r\n';
  return Buffer.from(header + line.repeat(Math.ceil((4096 - header.length) / line.length)));
}
