// A checker for every response the raw test client receives: each is parsed by the RFC 9051 /
// RFC 3501 response grammar (with the extensions the server advertises), and checked against the
// session's state: no NUL in a literal, literal8 only in BINARY, once CONDSTORE is on every FETCH
// that reports a flag change carries UID and MODSEQ (RFC 7162 3.1), VANISHED instead of EXPUNGE
// exactly when QRESYNC is on. Violations are collected, and the fixture fails the file on any.

/** One received response: its text with each literal replaced by LITERAL, and the literals. */
export interface ReceivedResponse {
  text: string;
  literals: Array<{ bytes: Buffer; eight: boolean }>;
}

export const LITERAL = '\uE000';

class Violation extends Error {}

/** Recursive-descent reader over one response. */
class Reader {
  i = 0;
  private literal = 0;
  constructor(
    readonly text: string,
    readonly literals: ReceivedResponse['literals'],
  ) {}

  fail(what: string): never {
    throw new Violation(`${what} at ${this.i}: ${JSON.stringify(this.text.slice(0, 200))}`);
  }
  peek(s: string): boolean {
    return this.text.startsWith(s, this.i);
  }
  eat(s: string): void {
    if (!this.peek(s)) this.fail(`expected ${JSON.stringify(s)}`);
    this.i += s.length;
  }
  sp(): void {
    this.eat(' ');
  }
  get done(): boolean {
    return this.i >= this.text.length;
  }
  end(): void {
    if (!this.done) this.fail('unexpected trailing text');
  }
  match(re: RegExp, what: string): string {
    re.lastIndex = this.i;
    const m = re.exec(this.text);
    if (!m || m.index !== this.i) this.fail(`expected ${what}`);
    this.i += m[0].length;
    return m[0];
  }
  number(): number {
    return Number(this.match(/\d+/y, 'number'));
  }
  atom(): string {
    // ATOM-CHAR: no ( ) { SP CTL % * " \ ]
    return this.match(/[^(){ \x00-\x1f\x7f%*"\\\]]+/y, 'atom');
  }
  /** A literal at the cursor; literal8 only where allowed. */
  literalHere(allowEight: boolean): Buffer {
    this.eat(LITERAL);
    const lit = this.literals[this.literal++];
    if (!lit) this.fail('literal missing');
    if (lit.eight && !allowEight) this.fail('literal8 outside BINARY');
    if (!lit.eight && lit.bytes.includes(0)) this.fail('NUL inside a literal');
    return lit.bytes;
  }
  quoted(): string {
    // quoted = DQUOTE *QUOTED-CHAR DQUOTE; no CR, LF or NUL, only \" and \\ escaped.
    return this.match(/"(?:[^"\\\r\n\x00]|\\["\\])*"/y, 'quoted string');
  }
  string(allowEight = false): void {
    if (this.peek('"')) this.quoted();
    else if (this.peek(LITERAL)) this.literalHere(allowEight);
    else this.fail('expected string');
  }
  nstring(allowEight = false): void {
    if (this.peek('NIL')) this.eat('NIL');
    else this.string(allowEight);
  }
  astring(): void {
    if (this.peek('"') || this.peek(LITERAL)) this.string();
    // ASTRING-CHAR: ATOM-CHAR or resp-specials ("]").
    else this.match(/[^(){ \x00-\x1f\x7f%*"\\]+/y, 'astring');
  }
  mailbox(): void {
    this.astring();
  }
  list(item: () => void, allowEmpty = true): void {
    this.eat('(');
    if (this.peek(')')) {
      if (!allowEmpty) this.fail('empty list');
    } else {
      item();
      while (this.peek(' ')) {
        this.sp();
        item();
      }
    }
    this.eat(')');
  }
  flag(): void {
    // flag = "\" atom / atom (keywords); "\*" only in PERMANENTFLAGS (caller allows it).
    if (this.peek('\\*')) this.eat('\\*');
    else {
      if (this.peek('\\')) this.eat('\\');
      this.atom();
    }
  }
  /**
   * Balanced parenthesised data of strings, numbers and NIL (BODYSTRUCTURE, ID, NAMESPACE); lists
   * may hold lists without a space between them (body-type-mpart, namespace).
   */
  sexp(): void {
    if (this.peek('(')) {
      this.eat('(');
      let first = true;
      while (!this.peek(')')) {
        if (!first && !this.peek('(')) this.sp();
        this.sexp();
        first = false;
      }
      this.eat(')');
    } else if (this.peek('NIL')) this.eat('NIL');
    else if (/\d/.test(this.text[this.i] ?? '')) this.number();
    else this.string();
  }
  seqSet(): void {
    this.match(/(?:\d+|\*)(?::(?:\d+|\*))?(?:,(?:\d+|\*)(?::(?:\d+|\*))?)*/y, 'sequence set');
  }
  freeText(): void {
    // resp-text after an optional code: TEXT-CHAR (no CR, LF, NUL); may be empty (RFC 9051).
    if (this.peek(LITERAL)) this.fail('literal in text');
    this.match(/[^\r\n\x00\uE000]*/y, 'text');
  }
}

const STATUS_ATT =
  /^(MESSAGES|RECENT|UIDNEXT|UIDVALIDITY|UNSEEN|SIZE|HIGHESTMODSEQ|DELETED|DELETED-STORAGE)$/;
const DATE_TIME =
  /"(?: \d|\d\d)-(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"/y;

export class ResponseChecker {
  /** Where violations go (shared by the clients of a test file). */
  constructor(readonly violations: string[]) {}
  private condstore = false;
  private qresync = false;
  /** UIDONLY (RFC 9586): UIDFETCH instead of FETCH, VANISHED instead of EXPUNGE. */
  private uidonly = false;
  /** Commands sent and not yet completed, in order: tag and upper-cased text. */
  private readonly inFlight: Array<{ tag: string; text: string }> = [];

  /** Records a command sent with its tag (the raw client's command()). */
  sent(tag: string, text: string): void {
    const upper = text.toUpperCase();
    this.inFlight.push({ tag, text: upper });
    // Commands that enable CONDSTORE as they start (RFC 7162 3.1).
    if (
      /^(SELECT|EXAMINE) .*\((CONDSTORE|QRESYNC)\b/.test(upper) ||
      /^(UID )?FETCH .*\b(MODSEQ|CHANGEDSINCE)\b/.test(upper) ||
      /^(UID )?SEARCH .*\bMODSEQ\b/.test(upper) ||
      /^(UID )?STORE .*\bUNCHANGEDSINCE\b/.test(upper) ||
      /^STATUS .*\bHIGHESTMODSEQ\b/.test(upper)
    )
      this.condstore = true;
  }

  received(response: ReceivedResponse): void {
    try {
      this.check(response);
    } catch (error) {
      if (error instanceof Violation) this.violations.push(error.message);
      else throw error;
    }
  }

  private current(): string {
    return this.inFlight[0]?.text ?? '';
  }

  private check({ text, literals }: ReceivedResponse): void {
    const r = new Reader(text, literals);
    if (r.peek('+')) {
      r.eat('+');
      if (!r.done) {
        r.sp();
        r.freeText();
      }
      r.end();
      return;
    }
    if (r.peek('* ')) {
      r.eat('* ');
      this.untagged(r);
      r.end();
      return;
    }
    const tag = r.match(/[^(){ \x00-\x1f\x7f%*"\\+]+/y, 'tag');
    r.sp();
    r.match(/OK|NO|BAD/y, 'tagged status');
    this.respText(r);
    r.end();
    const at = this.inFlight.findIndex((c) => c.tag === tag);
    if (at >= 0) this.inFlight.splice(at, 1);
  }

  private respText(r: Reader): void {
    if (r.done) return;
    r.sp();
    if (r.peek('[')) {
      r.eat('[');
      const code = r.atom().toUpperCase();
      if (code === 'PERMANENTFLAGS') {
        r.sp();
        r.list(() => r.flag());
      } else if (code === 'MAILBOXID') {
        // resp-text-code =/ "MAILBOXID" SP "(" objectid ")" (RFC 8474 section 7)
        r.sp();
        this.objectId(r);
      } else if (code === 'BADURL') {
        // "BADURL" SP url-resp-text: a bare imapurl, no "]" (RFC 4469 section 5 and erratum 4046).
        r.sp();
        r.match(/[^\]\r\n\x00]+/y, 'BADURL url-resp-text');
      } else if (code === 'METADATA') {
        // "METADATA" SP ("LONGENTRIES" SP number / "MAXSIZE" SP number / "TOOMANY" / "NOPRIVATE")
        r.sp();
        const kind = r.atom().toUpperCase();
        if (kind === 'LONGENTRIES' || kind === 'MAXSIZE') {
          r.sp();
          r.number();
        } else if (kind !== 'TOOMANY' && kind !== 'NOPRIVATE') r.fail(`unknown METADATA code ${kind}`);
      } else if (code === 'BADEVENT') {
        // "BADEVENT" SP "(" event-name *(SP event-name) ")" (RFC 5465 section 8)
        r.sp();
        r.list(() => {
          r.atom();
        }, false);
      } else if (code === 'TOOBIG' || code === 'UIDREQUIRED' || code === 'NOTIFICATIONOVERFLOW') {
        // Response codes without data (RFC 4469, RFC 9586).
      } else if (code === 'NOUPDATE') {
        // "NOUPDATE" SP quoted (RFC 5267 section 5)
        r.sp();
        r.quoted();
      } else if (code === 'BADCHARSET' && r.peek(' (')) {
        r.sp();
        r.list(() => r.astring(), false);
      } else if (r.peek(' ')) {
        r.sp();
        r.match(/[^\]\r\n\x00]+/y, 'response code data');
      }
      r.eat(']');
      if (r.done) return;
      r.sp();
    }
    r.freeText();
  }

  /** rights = astring of the RFC 4314 rights letters (and RFC 2086's c and d), each once. */
  private rights(r: Reader): void {
    const text = r.peek('"') ? r.quoted().slice(1, -1) : r.match(/[^(){ \x00-\x1f\x7f%*"\\]+/y, 'rights');
    if (!/^[lrswipkxteacd]*$/.test(text) || new Set(text).size !== text.length)
      r.fail(`rights ${JSON.stringify(text)} are not RFC 4314 rights`);
  }

  /** "(" objectid ")", objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474 section 7). */
  private objectId(r: Reader): void {
    r.eat('(');
    r.match(/[A-Za-z0-9_-]{1,255}(?=\))/y, 'objectid');
    r.eat(')');
  }

  private untagged(r: Reader): void {
    if (/\d/.test(r.text[r.i] ?? '')) {
      const n = r.number();
      r.sp();
      const kind = r.atom().toUpperCase();
      if (kind === 'EXISTS' || kind === 'RECENT') return;
      if (kind === 'EXPUNGE') {
        if (n === 0) r.fail('EXPUNGE 0');
        if (this.qresync) r.fail('EXPUNGE while QRESYNC is enabled (VANISHED expected)');
        if (this.uidonly) r.fail('EXPUNGE while UIDONLY is enabled (VANISHED expected)');
        return;
      }
      if (kind === 'FETCH') {
        if (this.uidonly) r.fail('FETCH while UIDONLY is enabled (UIDFETCH expected)');
        this.fetch(r, n);
        return;
      }
      if (kind === 'UIDFETCH') {
        // uidfetch-resp = uniqueid SP "UIDFETCH" SP msg-att (RFC 9586 section 6)
        if (!this.uidonly) r.fail('UIDFETCH without UIDONLY');
        this.fetch(r, n, true);
        return;
      }
      r.fail(`unknown message data ${kind}`);
    }
    const kind = r.atom().toUpperCase();
    switch (kind) {
      case 'OK':
      case 'NO':
      case 'BAD':
      case 'BYE':
      case 'PREAUTH':
        this.respText(r);
        return;
      case 'CAPABILITY':
      case 'ENABLED': {
        const names: string[] = [];
        while (r.peek(' ')) {
          r.sp();
          names.push(r.atom().toUpperCase());
        }
        if (kind === 'ENABLED') {
          if (names.includes('CONDSTORE') || names.includes('QRESYNC')) this.condstore = true;
          if (names.includes('QRESYNC')) this.qresync = true;
          if (names.includes('UIDONLY')) this.uidonly = true;
        }
        return;
      }
      case 'FLAGS':
        r.sp();
        r.list(() => r.flag());
        return;
      case 'LIST':
      case 'LSUB': {
        r.sp();
        r.list(() => {
          r.eat('\\');
          r.atom();
        });
        r.sp();
        if (r.peek('NIL')) r.eat('NIL');
        else r.quoted();
        r.sp();
        r.mailbox();
        if (r.peek(' ')) {
          // mbox-list-extended: ("CHILDINFO" ("SUBSCRIBED")) etc.
          r.sp();
          r.list(() => {
            const start = r.i;
            r.astring();
            const tag = r.text.slice(start, r.i).replace(/"/g, '');
            r.sp();
            if (tag.toUpperCase() === 'OLDNAME') {
              // oldname-extended-item = "OLDNAME" SP "(" mailbox ")" (RFC 5465 section 8)
              r.eat('(');
              r.mailbox();
              r.eat(')');
            } else r.sexp();
          });
        }
        return;
      }
      case 'STATUS':
        r.sp();
        r.mailbox();
        r.sp();
        r.list(() => {
          const att = r.atom().toUpperCase();
          r.sp();
          if (att === 'MAILBOXID') this.objectId(r);
          else if (!STATUS_ATT.test(att)) r.fail(`unknown status attribute ${att}`);
          else r.number();
        });
        return;
      case 'SEARCH':
      case 'SORT':
        while (r.peek(' ')) {
          r.sp();
          if (kind === 'SEARCH' && r.peek('(')) {
            r.eat('(MODSEQ ');
            r.number();
            r.eat(')');
            break;
          }
          r.number();
        }
        return;
      case 'ESEARCH':
        this.esearch(r);
        return;
      case 'THREAD':
        while (r.peek(' ')) {
          r.sp();
          while (r.peek('(')) this.thread(r);
        }
        return;
      case 'VANISHED':
        if (!this.qresync && !this.uidonly) r.fail('VANISHED without QRESYNC or UIDONLY');
        r.sp();
        if (r.peek('(EARLIER)')) {
          r.eat('(EARLIER)');
          r.sp();
        }
        r.seqSet();
        return;
      case 'ID':
      case 'NAMESPACE':
        while (r.peek(' ')) {
          r.sp();
          r.sexp();
        }
        return;
      case 'QUOTA':
        r.sp();
        r.astring();
        r.sp();
        r.list(() => {
          r.atom();
          r.sp();
          r.number();
          r.sp();
          r.number();
        });
        return;
      case 'METADATA':
        // metadata-resp = "METADATA" SP mailbox SP (entry-values / entry-list) (RFC 5464 section 5)
        r.sp();
        r.mailbox();
        r.sp();
        if (r.peek('(')) {
          r.list(() => {
            this.metadataEntry(r);
            r.sp();
            // value = nstring / literal8
            r.nstring(true);
          }, false);
        } else {
          this.metadataEntry(r);
          while (r.peek(' ')) {
            r.sp();
            this.metadataEntry(r);
          }
        }
        return;
      case 'ACL':
        // acl-data = "ACL" SP mailbox *(SP identifier SP rights) (RFC 4314 section 9)
        r.sp();
        r.mailbox();
        while (r.peek(' ')) {
          r.sp();
          r.astring();
          r.sp();
          this.rights(r);
        }
        return;
      case 'LISTRIGHTS':
        // listrights-data = "LISTRIGHTS" SP mailbox SP identifier SP rights *(SP rights)
        r.sp();
        r.mailbox();
        r.sp();
        r.astring();
        r.sp();
        this.rights(r);
        while (r.peek(' ')) {
          r.sp();
          this.rights(r);
        }
        return;
      case 'MYRIGHTS':
        // myrights-data = "MYRIGHTS" SP mailbox SP rights
        r.sp();
        r.mailbox();
        r.sp();
        this.rights(r);
        return;
      case 'QUOTAROOT':
        r.sp();
        r.mailbox();
        while (r.peek(' ')) {
          r.sp();
          r.astring();
        }
        return;
      default:
        r.fail(`unknown response ${kind}`);
    }
  }

  private esearch(r: Reader): void {
    if (r.peek(' (TAG ')) {
      r.eat(' (TAG ');
      r.string();
      r.eat(')');
    }
    if (r.peek(' UID')) r.eat(' UID');
    while (r.peek(' ')) {
      r.sp();
      const name = r.atom().toUpperCase();
      r.sp();
      if (name === 'ALL') r.seqSet();
      else if (['MIN', 'MAX', 'COUNT', 'MODSEQ'].includes(name)) r.number();
      else if (name === 'ADDTO' || name === 'REMOVEFROM') {
        // "(" context-position SP sequence-set *(SP context-position SP sequence-set) ")" (RFC 5267 5)
        r.eat('(');
        r.number();
        r.sp();
        r.seqSet();
        while (r.peek(' ')) {
          r.sp();
          r.number();
          r.sp();
          r.seqSet();
        }
        r.eat(')');
      } else if (name === 'PARTIAL') {
        // "(" partial-range SP partial-results ")", partial-results = sequence-set / "NIL"
        r.eat('(');
        r.match(/[1-9]\d*:[1-9]\d*/y, 'partial-range');
        r.sp();
        if (r.peek('NIL')) r.eat('NIL');
        else r.seqSet();
        r.eat(')');
      } else r.fail(`unknown ESEARCH item ${name}`);
    }
  }

  /** entry = astring: /private or /shared, no "*" "%", no "//", no trailing "/" (RFC 5464 3.2). */
  private metadataEntry(r: Reader): void {
    const start = r.i;
    r.astring();
    const name = r.text.slice(start, r.i).replace(/^"|"$/g, '');
    if (!/^\/(private|shared)(\/[^/*%]+)+$/i.test(name)) r.fail(`invalid metadata entry ${name}`);
  }

  private thread(r: Reader): void {
    // thread-list = "(" (thread-members / thread-nested) ")"
    r.eat('(');
    while (!r.peek(')')) {
      if (r.peek('(')) this.thread(r);
      else {
        r.number();
        if (r.peek(' ')) r.sp();
      }
    }
    r.eat(')');
  }

  private fetch(r: Reader, seq: number, byUid = false): void {
    if (seq === 0) r.fail('FETCH 0');
    r.sp();
    const names = new Set<string>();
    r.list(() => {
      const name = r.match(/[A-Za-z0-9.]+(?:\[[^\]]*\])?(?:<\d+>)?/y, 'fetch attribute').toUpperCase();
      const base = name.replace(/[[<].*$/, '');
      names.add(base);
      r.sp();
      switch (base) {
        case 'UID':
        case 'RFC822.SIZE':
          r.number();
          return;
        case 'BINARY.SIZE':
          r.number();
          return;
        case 'MODSEQ':
          r.eat('(');
          r.number();
          r.eat(')');
          return;
        case 'FLAGS':
          r.list(() => r.flag());
          return;
        case 'INTERNALDATE':
          r.match(DATE_TIME, 'date-time');
          return;
        case 'PREVIEW':
          // msg-att-dynamic =/ "PREVIEW" SP nstring, at most 256 characters (RFC 8970 section 7)
          if (r.peek('NIL')) r.eat('NIL');
          else if (r.peek(LITERAL)) r.nstring();
          else if (Array.from(r.quoted().slice(1, -1).replace(/\\(.)/g, '$1')).length > 256)
            r.fail('PREVIEW longer than 256 characters');
          return;
        case 'EMAILID':
          // "EMAILID" SP "(" objectid ")" / "THREADID" SP ( "(" objectid ")" / nil ) (RFC 8474 7)
          this.objectId(r);
          return;
        case 'THREADID':
          if (r.peek('NIL')) r.eat('NIL');
          else this.objectId(r);
          return;
        case 'SAVEDATE':
          // msg-att-dynamic =/ "SAVEDATE" SP (date-time / nil) (RFC 8514 section 5)
          if (r.peek('NIL')) r.eat('NIL');
          else r.match(DATE_TIME, 'date-time');
          return;
        case 'ENVELOPE':
          this.envelope(r);
          return;
        case 'BODY':
          if (name === 'BODY') return r.sexp();
          r.nstring();
          return;
        case 'BODYSTRUCTURE':
          r.sexp();
          return;
        case 'BINARY':
          r.nstring(true);
          return;
        case 'RFC822':
        case 'RFC822.HEADER':
        case 'RFC822.TEXT':
          r.nstring();
          return;
        default:
          r.fail(`unknown fetch attribute ${name}`);
      }
    }, false);
    // Under UIDONLY the UID heads the response.
    if (byUid) names.add('UID');
    this.modseqRule(r, names);
  }

  /** RFC 7162 3.1: under CONDSTORE a FETCH that reports a flag change carries UID and MODSEQ. */
  private modseqRule(r: Reader, names: Set<string>): void {
    if (!this.condstore) return;
    const command = this.current();
    const fetching = /^(UID )?FETCH /.test(command);
    const askedFlags = fetching && /\b(FLAGS|ALL|FAST|FULL)\b/.test(command);
    const flagChange = /^(UID )?STORE /.test(command) || (names.has('FLAGS') && !askedFlags);
    if (flagChange && (!names.has('UID') || !names.has('MODSEQ')))
      r.fail('flag-change FETCH without UID and MODSEQ under CONDSTORE');
  }

  private envelope(r: Reader): void {
    r.eat('(');
    r.nstring(); // date
    r.sp();
    r.nstring(); // subject
    for (let i = 0; i < 6; i++) {
      r.sp();
      if (r.peek('NIL')) {
        r.eat('NIL');
        continue;
      }
      // "(" 1*address ")", addresses side by side.
      r.eat('(');
      do {
        r.eat('(');
        r.nstring();
        r.sp();
        r.nstring();
        r.sp();
        r.nstring();
        r.sp();
        r.nstring();
        r.eat(')');
      } while (r.peek('('));
      r.eat(')');
    }
    r.sp();
    r.nstring(); // in-reply-to
    r.sp();
    r.nstring(); // message-id
    r.eat(')');
  }
}
