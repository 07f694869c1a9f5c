/** RFC 5256 2.1 base subject: what SORT SUBJECT and THREAD compare. */

/** Decodes RFC 2047 encoded words (B and Q) so equal subjects compare equal however they were sent. */
export function decodeEncodedWords(text: string): string {
  // Most fields hold no encoded word: skip both passes (SEARCH runs this on every header it compares).
  if (!text.includes('=?')) return text;
  return text
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(
      /=\?([^?*]+)(?:\*[^?]*)?\?([BbQq])\?([^?]*)\?=/g,
      (whole, charset: string, encoding: string, data: string) => {
        try {
          const bytes =
            encoding.toUpperCase() === 'B'
              ? Buffer.from(data, 'base64')
              : Buffer.from(
                  data
                    .replace(/_/g, ' ')
                    .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) =>
                      String.fromCharCode(Number.parseInt(h, 16)),
                    ),
                  'latin1',
                );
          return new TextDecoder(charset.toLowerCase()).decode(bytes);
        } catch {
          return whole;
        }
      },
    );
}

const BLOB = /^\[[^[\]]*\]\s*/;
const REFWD = /^(?:re|fwd?)\s*(?:\[[^[\]]*\]\s*)?:/i;

export function baseSubject(subject: string | null | undefined): string {
  return subjectInfo(subject).base;
}

/**
 * The base subject, and whether extracting it removed a reply or forward marker ("re:", "fwd:",
 * a trailing "(fwd)" or a "[fwd: ...]" wrapper): what THREAD=REFERENCES step 5 calls a reply or
 * forward (RFC 5256 2.1 and 3).
 */
export function subjectInfo(subject: string | null | undefined): { base: string; replyOrForward: boolean } {
  let replyOrForward = false;
  let s = decodeEncodedWords(subject ?? '')
    .replace(/[\t\r\n]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  for (;;) {
    const before = s;
    // (2) trailing "(fwd)"
    while (/\(fwd\)\s*$/i.test(s)) {
      s = s.replace(/\s*\(fwd\)\s*$/i, '').trimEnd();
      replyOrForward = true;
    }
    // (3) leading subj-leader, and a leading blob if something is left after it
    for (;;) {
      const start = s;
      s = s.replace(/^\s+/, '');
      let probe = s;
      while (BLOB.test(probe)) probe = probe.replace(BLOB, '');
      if (REFWD.test(probe)) {
        s = probe.replace(REFWD, '').trimStart();
        replyOrForward = true;
      } else if (BLOB.test(s) && s.replace(BLOB, '') !== '') s = s.replace(BLOB, '');
      if (s === start) break;
    }
    // (5) [fwd: ...] wrapper
    const fwd = /^\[fwd:\s*(.*)\]$/i.exec(s);
    if (fwd) {
      s = fwd[1]!.trim();
      replyOrForward = true;
    }
    if (s === before) break;
  }
  return { base: s.toUpperCase(), replyOrForward };
}
