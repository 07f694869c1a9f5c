import { createHmac, timingSafeEqual } from 'node:crypto';

// The Sender Rewriting Scheme (SRS0 form of libsrs2): a forwarded message carries an envelope sender
// in our domain, so SPF at the next hop passes, and bounces to it can be sent back to the original
// sender, but only with a valid, recent hash: the forwarder cannot be abused as an open bounce relay.
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY = 86_400_000;
const MAX_AGE_DAYS = 21;

function timestamp(now: number): string {
  const days = Math.floor(now / DAY) % 1024;
  return `${BASE32[days >> 5]}${BASE32[days & 31]}`;
}

function hash(secret: string, ...parts: string[]): string {
  return createHmac('sha1', secret).update(parts.join('').toLowerCase()).digest('base64').slice(0, 4);
}

/** SRS0=HHHH=TT=domain=local@srsDomain; the null sender stays null. */
export function srsForward(sender: string, srsDomain: string, secret: string, now = Date.now()): string {
  if (sender === '') return '';
  const at = sender.lastIndexOf('@');
  const local = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  const tt = timestamp(now);
  return `SRS0=${hash(secret, tt, domain, local)}=${tt}=${domain}=${local}@${srsDomain}`;
}

export type SrsReverse = { ok: true; address: string } | { ok: false; reason: string };

/** The original sender of an SRS0 local part, when its hash is ours and it is not too old. */
export function srsReverse(localPart: string, secret: string, now = Date.now()): SrsReverse {
  const match = /^SRS0[=+-]([^=]{4})=([A-Z2-7]{2})=([^=]+)=(.+)$/i.exec(localPart);
  if (!match) return { ok: false, reason: 'not an SRS0 address' };
  const [, given, tt, domain, local] = match as unknown as [string, string, string, string, string];
  const expected = hash(secret, tt, domain, local);
  if (
    given.length !== expected.length ||
    !timingSafeEqual(Buffer.from(given.toLowerCase()), Buffer.from(expected.toLowerCase()))
  )
    return { ok: false, reason: 'bad SRS hash' };
  const stamp = BASE32.indexOf(tt[0]!.toUpperCase()) * 32 + BASE32.indexOf(tt[1]!.toUpperCase());
  const today = Math.floor(now / DAY) % 1024;
  const age = (today - stamp + 1024) % 1024;
  if (age > MAX_AGE_DAYS) return { ok: false, reason: 'SRS address expired' };
  return { ok: true, address: `${local}@${domain}` };
}
