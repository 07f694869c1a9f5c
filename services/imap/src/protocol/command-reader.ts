import { ImapProtocolError } from './errors.js';

/** One client command as received: text pieces with the literals that followed each `{n}` marker. */
export interface RawCommand {
  /** texts[i] is followed by literals[i] (when present); texts has one more entry than literals. */
  texts: Buffer[];
  literals: Buffer[][];
  /** literal8[i]: literals[i] was announced as `~{n}` (RFC 3516), not `{n}`. */
  literal8: boolean[];
}

export type ReaderEvent =
  | { type: 'command'; command: RawCommand }
  /** A synchronising literal was announced and accepted: the server must send a continuation. */
  | { type: 'continue'; size: number }
  | { type: 'error'; error: ImapProtocolError };

export interface ReaderLimits {
  maxLineLength: number;
  /** Largest literal for the command that starts with this line (APPEND gets the append limit). */
  literalLimit: (firstLine: Buffer) => number;
  /** Largest non-synchronising literal (4096 under LITERAL-). */
  maxNonSyncLiteral: number;
  maxLiteralsPerCommand: number;
  /**
   * A command after which the reader stops and holds what follows until `release()` (STARTTLS:
   * what was pipelined behind it is dropped with the reader if TLS starts, so no continuation
   * request may answer it in plaintext; if STARTTLS is refused, it runs).
   */
  holdAfter?: (command: RawCommand) => boolean;
}

// `~{n}` is a literal8 (BINARY, UTF8 APPEND); its bytes are handled like any literal.
const LITERAL_MARKER = /~?\{(\d+)(\+)?\}$/;

const NO_EVENTS: ReaderEvent[] = [];

/** The tag of a command line, for error replies to a command that was never parsed. */
function tagOf(line: Buffer): string | undefined {
  const space = line.indexOf(0x20);
  const tag = line
    .subarray(0, space < 0 ? Math.min(line.length, 64) : Math.min(space, 64))
    .toString('latin1');
  return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : undefined;
}

/**
 * Cuts the byte stream into commands. Literal sizes are checked against the limits from the digits
 * alone, before any buffer is allocated, so `{4294967295}` costs nothing; lines are capped too.
 * Literals are kept as the chunks they arrived in (never concatenated here).
 */
export class CommandReader {
  private line: Buffer[] = [];
  private lineLength = 0;
  private texts: Buffer[] = [];
  private literals: Buffer[][] = [];
  private literal8: boolean[] = [];
  private literalRemaining = 0;
  private literalChunks: Buffer[] = [];
  private closed = false;
  /** Bytes received after a `holdAfter` command, not yet read. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;

  constructor(private readonly limits: ReaderLimits) {}

  /** Feeds bytes; returns the events they complete, in order. */
  push(data: Buffer): ReaderEvent[] {
    if (this.held) {
      this.held.push(data);
      this.heldBytes += data.length;
      // The client should be waiting for the answer: more than a line's worth is not a pipeline.
      if (this.heldBytes <= this.limits.maxLineLength) return [];
      this.held = undefined;
      this.closed = true;
      return [
        {
          type: 'error',
          error: new ImapProtocolError('LINE_TOO_LONG', 'Too much input before the answer', true),
        },
      ];
    }
    const events: ReaderEvent[] = [];
    let offset = 0;
    while (offset < data.length && !this.closed) {
      if (this.literalRemaining > 0) {
        const take = Math.min(this.literalRemaining, data.length - offset);
        this.literalChunks.push(data.subarray(offset, offset + take));
        this.literalRemaining -= take;
        offset += take;
        if (this.literalRemaining === 0) {
          this.literals.push(this.literalChunks);
          this.literalChunks = [];
        }
        continue;
      }
      const lf = data.indexOf(0x0a, offset);
      const end = lf < 0 ? data.length : lf;
      const piece = data.subarray(offset, end);
      offset = lf < 0 ? data.length : lf + 1;
      if (this.lineLength + piece.length > this.limits.maxLineLength) {
        this.closed = true;
        events.push({
          type: 'error',
          error: new ImapProtocolError('LINE_TOO_LONG', 'Command line too long', true),
        });
        break;
      }
      this.line.push(piece);
      this.lineLength += piece.length;
      if (lf < 0) break;
      // A line that arrived in one piece is used as it is (a view of the socket's buffer, as literals are).
      let text = this.line.length === 1 ? piece : Buffer.concat(this.line, this.lineLength);
      this.line = [];
      this.lineLength = 0;
      if (text.length > 0 && text[text.length - 1] === 0x0d) text = text.subarray(0, text.length - 1);
      const event = this.completeLine(text);
      if (event) events.push(event);
      if (event?.type === 'command' && this.limits.holdAfter?.(event.command)) {
        this.held = offset < data.length ? [data.subarray(offset)] : [];
        this.heldBytes = data.length - offset;
        break;
      }
    }
    return events;
  }

  /** Reads what was held after a `holdAfter` command; returns the events it completes. */
  release(): ReaderEvent[] {
    if (!this.held) return NO_EVENTS;
    const held = this.held;
    this.held = undefined;
    const events: ReaderEvent[] = [];
    for (const [index, data] of held.entries()) {
      events.push(...this.push(data));
      // Held again by a later command: keep the rest behind it.
      const heldAgain = this.held as Buffer[] | undefined;
      if (heldAgain) {
        for (const rest of held.slice(index + 1)) {
          heldAgain.push(rest);
          this.heldBytes += rest.length;
        }
        break;
      }
    }
    return events;
  }

  private completeLine(text: Buffer): ReaderEvent | undefined {
    // Only the tail can be a marker; decode at most a few bytes of it.
    const tail = text.subarray(Math.max(0, text.length - 32)).toString('latin1');
    const match = LITERAL_MARKER.exec(tail);
    if (!match) {
      this.texts.push(text);
      const command = { texts: this.texts, literals: this.literals, literal8: this.literal8 };
      this.texts = [];
      this.literals = [];
      this.literal8 = [];
      return { type: 'command', command };
    }
    const digits = match[1]!;
    const nonSync = match[2] === '+';
    const firstLine = this.texts[0] ?? text;
    const limit = Math.min(
      this.limits.literalLimit(firstLine),
      nonSync ? this.limits.maxNonSyncLiteral : Number.MAX_SAFE_INTEGER,
    );
    // Compare by digit count first: twenty digits never become a number here.
    const size = digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits);
    const tag = tagOf(firstLine);
    if (size > limit || this.literals.length >= this.limits.maxLiteralsPerCommand) {
      this.texts = [];
      this.literals = [];
      this.literal8 = [];
      if (nonSync) {
        // The client sends the bytes regardless; the stream cannot be resynchronised cheaply.
        this.closed = true;
        return {
          type: 'error',
          error: new ImapProtocolError('LITERAL_TOO_LARGE', 'Literal too large', true, tag),
        };
      }
      return {
        type: 'error',
        error: new ImapProtocolError('LITERAL_TOO_LARGE', 'Literal too large', false, tag),
      };
    }
    this.texts.push(text.subarray(0, text.length - match[0].length));
    this.literal8.push(match[0].startsWith('~'));
    if (size === 0) {
      this.literals.push([]);
      return undefined;
    }
    this.literalRemaining = size;
    return nonSync ? undefined : { type: 'continue', size };
  }

  /** Bytes held for an incomplete command (for memory accounting in tests). */
  get bufferedBytes(): number {
    let n = this.lineLength;
    for (const t of this.texts) n += t.length;
    for (const l of this.literals) for (const c of l) n += c.length;
    for (const c of this.literalChunks) n += c.length;
    if (this.held) n += this.heldBytes;
    return n;
  }
}
