/**
 * Cuts ManageSieve input (RFC 5804 4) into commands: a command is an atom followed by arguments
 * (atoms, quoted strings, literals `{n+}` CRLF octets, also `{n}` without waiting for a continuation)
 * and CRLF. Knows nothing of what the commands mean. Limits are checked before anything is allocated:
 * a line longer than maxLineLength or a literal larger than maxLiteralSize ends the connection.
 */
export interface SieveCommandLine {
  /** The first token, upper-cased. */
  verb: string;
  args: string[];
  /** Every token as sent (a SASL response line is one string token whose case matters). */
  tokens: string[];
}

export type ReadItem = SieveCommandLine | { error: 'too-long' | 'syntax'; message: string };

const MAX_ARGS = 16;

export class ManageSieveReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly maxLineLength: number,
    private readonly maxLiteralSize: number,
  ) {}

  /** Complete commands in the input so far; an error item ends the stream (the session closes). */
  push(data: Buffer): ReadItem[] {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    const out: ReadItem[] = [];
    for (;;) {
      const parsed = this.parseOne();
      if (parsed === undefined) break;
      out.push(parsed);
      if ('error' in parsed) {
        this.buffer = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  /** One command off the front of the buffer, or undefined when it is not complete yet. */
  private parseOne(): ReadItem | undefined {
    const buf = this.buffer;
    const tokens: string[] = [];
    let pos = 0;
    let lineStart = 0;
    for (;;) {
      while (buf[pos] === 0x20) pos++;
      if (pos - lineStart > this.maxLineLength) return { error: 'too-long', message: 'Line too long' };
      if (pos >= buf.length) return this.incomplete(buf.length - lineStart);
      const c = buf[pos]!;
      if (c === 0x0d || c === 0x0a) {
        const end = c === 0x0d ? pos + 1 : pos;
        if (c === 0x0d && end >= buf.length) return undefined;
        if (buf[end] !== 0x0a) return { error: 'syntax', message: 'Bare CR' };
        this.buffer = buf.subarray(end + 1);
        if (tokens.length === 0) return this.parseOne();
        const [verb, ...args] = tokens as [string, ...string[]];
        return { verb: verb.toUpperCase(), args, tokens };
      }
      if (tokens.length > MAX_ARGS) return { error: 'syntax', message: 'Too many arguments' };
      if (c === 0x22) {
        // Quoted string: \" and \\ are the only escapes; no CR, LF or NUL inside.
        let value = '';
        let i = pos + 1;
        let closed = false;
        let segment = i;
        for (; i < buf.length; i++) {
          const x = buf[i]!;
          if (x === 0x5c) {
            value += buf.subarray(segment, i).toString('utf8');
            const next = buf[i + 1];
            if (next === undefined) return this.incomplete(i - lineStart);
            if (next !== 0x22 && next !== 0x5c)
              return { error: 'syntax', message: 'Bad escape in quoted string' };
            value += String.fromCharCode(next);
            i++;
            segment = i + 1;
          } else if (x === 0x22) {
            value += buf.subarray(segment, i).toString('utf8');
            closed = true;
            break;
          } else if (x === 0x0d || x === 0x0a || x === 0) {
            return { error: 'syntax', message: 'Line break in quoted string' };
          }
        }
        if (!closed) return this.incomplete(i - lineStart);
        tokens.push(value);
        pos = i + 1;
        continue;
      }
      if (c === 0x7b) {
        // Literal: {n+} or {n} then CRLF then n octets.
        const close = buf.indexOf(0x7d, pos);
        if (close < 0) return buf.length - pos > 24 ? { error: 'syntax', message: 'Bad literal' } : undefined;
        const spec = buf.subarray(pos + 1, close).toString('latin1');
        const match = /^(\d{1,10})\+?$/.exec(spec);
        if (!match) return { error: 'syntax', message: 'Bad literal' };
        const size = Number(match[1]);
        if (size > this.maxLiteralSize) return { error: 'too-long', message: 'Literal too large' };
        if (close + 2 >= buf.length) return undefined;
        if (buf[close + 1] !== 0x0d || buf[close + 2] !== 0x0a)
          return { error: 'syntax', message: 'Literal must be followed by CRLF' };
        const start = close + 3;
        if (buf.length < start + size) return undefined;
        tokens.push(buf.subarray(start, start + size).toString('utf8'));
        pos = start + size;
        lineStart = pos;
        continue;
      }
      // Atom: up to a space, CR or LF.
      let end = pos;
      while (end < buf.length && buf[end] !== 0x20 && buf[end] !== 0x0d && buf[end] !== 0x0a) end++;
      if (end >= buf.length) return this.incomplete(end - lineStart);
      const atom = buf.subarray(pos, end).toString('utf8');
      if (!/^[\x21-\x7e]+$/.test(atom) || /["{}]/.test(atom)) return { error: 'syntax', message: 'Bad atom' };
      tokens.push(atom);
      pos = end;
    }
  }

  private incomplete(lineSoFar: number): ReadItem | undefined {
    return lineSoFar > this.maxLineLength ? { error: 'too-long', message: 'Line too long' } : undefined;
  }
}

/** A string as a ManageSieve response argument: quoted when short and plain, a literal otherwise. */
export function sieveString(value: string): string {
  if (value.length <= 1024 && !/[\r\n\0"\\]/.test(value)) return `"${value}"`;
  if (value.length <= 1024 && !/[\r\n\0]/.test(value)) return `"${value.replace(/[\\"]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(value)}}\r\n${value}`;
}
