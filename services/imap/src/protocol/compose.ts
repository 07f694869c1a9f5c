/** Response formatting: every string the server sends goes through one of these. */

const QUOTABLE = /^[\x20-\x7e]*$/;

/** A string as quoted (when short and plain) or as a literal. */
export function imapString(value: string | Buffer): string {
  const text = typeof value === 'string' ? value : value.toString('utf8');
  if (text.length < 1024 && QUOTABLE.test(text)) return `"${text.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
  return `{${Buffer.byteLength(text, 'utf8')}}\r\n${text}`;
}

/** NIL or a string. */
export function nstring(value: string | null | undefined): string {
  return value === null || value === undefined ? 'NIL' : imapString(value);
}

/**
 * An astring: atom when the characters allow it, else quoted/literal. The atom NIL means "no
 * string" (RFC 3501 4.5), so a value spelled NIL is quoted.
 */
export function astring(value: string): string {
  return /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+$/.test(value) && value.toUpperCase() !== 'NIL'
    ? value
    : imapString(value);
}

export function list(items: string[]): string {
  return `(${items.join(' ')})`;
}

/** IMAP date-time: "17-Jul-1996 02:44:25 -0700" (always sent in UTC). */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function imapDateTime(date: Date, zoneMinutes = 0): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  // The wall-clock time in the zone (minutes east of UTC), read with the UTC getters.
  const local = new Date(date.getTime() + zoneMinutes * 60_000);
  const zone = `${zoneMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(zoneMinutes) / 60))}${pad(Math.abs(zoneMinutes) % 60)}`;
  return `"${pad(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${local.getUTCFullYear()} ${pad(local.getUTCHours())}:${pad(
    local.getUTCMinutes(),
  )}:${pad(local.getUTCSeconds())} ${zone}"`;
}

/** The zone of a date-time ("17-Jul-1996 02:44:25 -0700" is -420), in minutes east of UTC. */
export function dateTimeZone(text: string): number {
  const m = / ([+-])(\d{2})(\d{2})$/.exec(text);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** Parses date-time ("17-Jul-1996 02:44:25 -0700") or date ("1-Feb-1994"); undefined when invalid. */
export function parseImapDate(text: string, withTime: boolean): Date | undefined {
  const m = withTime
    ? /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text)
    : /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(m[1]);
  if (day < 1 || day > 31) return undefined;
  if (!withTime) return new Date(Date.UTC(Number(m[3]), month, day));
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(Number(m[3]), month, day, Number(m[4]), Number(m[5]), Number(m[6])) - offset * 60_000;
  return new Date(utc);
}
