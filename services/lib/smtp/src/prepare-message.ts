import type { SpooledBody } from '@hermod/spool';

export class BareLineEndingError extends Error {
  readonly code = 'BARE_LINE_ENDING';
  constructor() {
    super('message contains a bare CR or LF');
    this.name = 'BareLineEndingError';
  }
}

export interface PrepareOptions {
  /** 'normalise' turns bare CR and bare LF into CRLF; 'reject' refuses the message. */
  bareLineEndings: 'normalise' | 'reject';
  /** Header fields to put first (e.g. Received), each ending in CRLF. */
  prepend: string;
  /** Computes fields to add at the end of the header block once the header is known (Message-ID, Date). */
  append?: (summary: HeaderSummary) => string;
  /** Past this size the header block is no longer inspected (it is still stored). */
  maxHeaderBytes?: number;
}

export interface HeaderSummary {
  /** Lower-cased names of the fields present. */
  names: Set<string>;
  /** Unfolded values of the fields of interest: from, sender, message-id, date, subject. */
  values: Map<string, string[]>;
  receivedCount: number;
}

export interface PreparedMessage extends HeaderSummary {
  size: number;
  sawBareLineEnding: boolean;
  /** The whole header block was inspected (not cut off at maxHeaderBytes): names and values are all of them. */
  headerComplete: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const interesting = new Set([
  'from',
  'sender',
  'message-id',
  'date',
  'subject',
  'to',
  'cc',
  'authentication-results',
]);

/** Converts bare CR and bare LF to CRLF across chunk boundaries; counts what it fixed. */
class LineEndingNormaliser {
  private pendingCR = false;
  bare = 0;

  push(chunk: Buffer): Buffer {
    // Fast path: nothing to fix when every LF is preceded by CR and every CR followed by LF.
    let clean = !this.pendingCR || chunk[0] === LF;
    for (let i = chunk.indexOf(LF); clean && i !== -1; i = chunk.indexOf(LF, i + 1)) {
      if (i === 0 ? !this.pendingCR : chunk[i - 1] !== CR) clean = false;
    }
    for (let i = chunk.indexOf(CR); clean && i !== -1; i = chunk.indexOf(CR, i + 1)) {
      if (i < chunk.length - 1 && chunk[i + 1] !== LF) clean = false;
    }
    if (clean) {
      // A CR at the very end is held back (not emitted) until the next byte shows what it is.
      const endsWithCR = chunk.length > 0 && chunk[chunk.length - 1] === CR;
      const body = endsWithCR ? chunk.subarray(0, chunk.length - 1) : chunk;
      const out = this.pendingCR && chunk.length > 0 ? Buffer.concat([Buffer.from([CR]), body]) : body;
      if (chunk.length > 0) this.pendingCR = endsWithCR;
      return out;
    }
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.pendingCR) {
        this.pendingCR = false;
        if (byte === LF) {
          out.push(CR, LF);
          continue;
        }
        this.bare++;
        out.push(CR, LF);
      }
      if (byte === CR) this.pendingCR = true;
      else if (byte === LF) {
        this.bare++;
        out.push(CR, LF);
      } else out.push(byte);
    }
    return Buffer.from(out);
  }

  /** A CR left at the very end of the message. */
  end(): Buffer {
    if (!this.pendingCR) return Buffer.alloc(0);
    this.pendingCR = false;
    this.bare++;
    return Buffer.from([CR, LF]);
  }
}

function summarise(header: string): HeaderSummary {
  const names = new Set<string>();
  const values = new Map<string, string[]>();
  let receivedCount = 0;
  // Unfold: a line starting with white space continues the previous field.
  const fields = header.split(/\r\n(?![ \t])/);
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    names.add(name);
    if (name === 'received') receivedCount++;
    if (interesting.has(name)) {
      const list = values.get(name) ?? [];
      list.push(
        field
          .slice(colon + 1)
          .replace(/\r\n[ \t]/g, ' ')
          .trim(),
      );
      values.set(name, list);
    }
  }
  return { names, values, receivedCount };
}

/**
 * Streams a message from an SMTP DATA stream into a spool: fixes or refuses bare line endings,
 * collects the header block (bounded) to inspect it, writes the prepended trace fields, the header,
 * the computed additions and then the body, never holding more than the header in memory.
 */
export async function prepareMessage(
  source: AsyncIterable<Buffer>,
  sink: Pick<SpooledBody, 'write'>,
  options: PrepareOptions,
): Promise<PreparedMessage> {
  const maxHeader = options.maxHeaderBytes ?? 256 * 1024;
  const normaliser = new LineEndingNormaliser();
  let headerParts: Buffer[] = [];
  let headerLength = 0;
  let inHeader = true;
  let summary: HeaderSummary = { names: new Set(), values: new Map(), receivedCount: 0 };
  let headerComplete = true;
  let size = 0;

  const write = async (b: Buffer) => {
    size += b.length;
    await sink.write(b);
  };

  const finishHeader = async (headerEnd: number | undefined, complete = true) => {
    const all = Buffer.concat(headerParts, headerLength);
    headerParts = [];
    // headerEnd points just past the CRLF of the last field line (the blank line follows).
    const headerBytes = headerEnd === undefined ? all : all.subarray(0, headerEnd);
    const rest = headerEnd === undefined ? Buffer.alloc(0) : all.subarray(headerEnd);
    summary = summarise(headerBytes.toString('latin1'));
    headerComplete = complete;
    // Trace fields carry UTF-8 addresses (RFC 6532): written as UTF-8, never narrowed to Latin-1.
    await write(Buffer.from(options.prepend, 'utf8'));
    await write(headerBytes);
    // A header cut off at the size limit gets no additions: they would land inside a field.
    const extra = complete ? (options.append?.(summary) ?? '') : '';
    if (extra) {
      if (
        headerEnd === undefined &&
        headerBytes.length > 0 &&
        !headerBytes.subarray(-2).equals(Buffer.from('\r\n'))
      )
        await write(Buffer.from('\r\n'));
      await write(Buffer.from(extra, 'utf8'));
    }
    if (rest.length > 0) await write(rest);
    inHeader = false;
  };

  const take = async (chunk: Buffer) => {
    if (chunk.length === 0) return;
    if (!inHeader) {
      await write(chunk);
      return;
    }
    headerParts.push(chunk);
    headerLength += chunk.length;
    const joined = headerParts.length === 1 ? chunk : Buffer.concat(headerParts, headerLength);
    headerParts = [joined];
    const blank = joined.indexOf('\r\n\r\n');
    if (joined.subarray(0, 2).equals(Buffer.from('\r\n'))) await finishHeader(0);
    else if (blank !== -1) await finishHeader(blank + 2);
    else if (headerLength > maxHeader) await finishHeader(undefined, false);
  };

  for await (const chunk of source) {
    const fixed = normaliser.push(chunk);
    if (normaliser.bare > 0 && options.bareLineEndings === 'reject') throw new BareLineEndingError();
    await take(fixed);
  }
  await take(normaliser.end());
  if (normaliser.bare > 0 && options.bareLineEndings === 'reject') throw new BareLineEndingError();
  if (inHeader) await finishHeader(undefined);
  return { ...summary, size, sawBareLineEnding: normaliser.bare > 0, headerComplete };
}
