/** Header block helpers shared by the MIME parse and HEADER.FIELDS sections. */

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Unfolded value without the leading space. */
  value: string;
  /** Raw bytes of the field including continuation lines and the final line break. */
  start: number;
  end: number;
}

/** Splits a header block (bytes [start, end)) into fields; lines without a colon are skipped. */
export function splitHeaderFields(buffer: Buffer, start: number, end: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = start;
  let current: { start: number; colon: number } | undefined;
  const finish = (fieldEnd: number) => {
    if (!current) return;
    const name = buffer.toString('latin1', current.start, current.colon).trim().toLowerCase();
    const value = buffer
      .toString('utf8', current.colon + 1, fieldEnd)
      .replace(/\r?\n(?=[ \t])/g, '')
      .replace(/\r?\n$/, '')
      .trim();
    if (name) fields.push({ name, value, start: current.start, end: fieldEnd });
    current = undefined;
  };
  while (pos < end) {
    let lf = buffer.indexOf(0x0a, pos);
    if (lf < 0 || lf >= end) lf = end - 1;
    const lineEnd = lf + 1;
    const first = buffer[pos];
    if (first === 0x0d || first === 0x0a) {
      // The blank line that ends the header block.
      finish(pos);
      break;
    }
    if ((first === 0x20 || first === 0x09) && current) {
      pos = lineEnd;
      continue;
    }
    finish(pos);
    const colon = buffer.indexOf(0x3a, pos);
    if (colon >= 0 && colon < lineEnd) current = { start: pos, colon };
    pos = lineEnd;
  }
  finish(Math.min(pos, end));
  return fields;
}

/** Where the body starts: after the first empty line, or end when there is none. */
export function findBodyStart(buffer: Buffer, start: number, end: number): number {
  if (buffer[start] === 0x0a) return start + 1;
  if (buffer[start] === 0x0d && buffer[start + 1] === 0x0a) return start + 2;
  let pos = start;
  while (pos < end) {
    const lf = buffer.indexOf(0x0a, pos);
    if (lf < 0 || lf >= end) return end;
    const next = lf + 1;
    if (buffer[next] === 0x0a) return Math.min(next + 1, end);
    if (buffer[next] === 0x0d && buffer[next + 1] === 0x0a) return Math.min(next + 2, end);
    pos = next;
  }
  return end;
}

export interface StructuredValue {
  value: string;
  params: Array<[string, string]>;
}

/** `type/subtype; a=b; c="d e"` -> value and parameters (RFC 2231 forms passed through as sent). */
export function parseStructured(text: string): StructuredValue {
  const noComments = stripComments(text);
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < noComments.length; i++) {
    const c = noComments[i]!;
    if (c === '\\' && quoted && i + 1 < noComments.length) {
      current += noComments[++i];
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ';' && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  const params: Array<[string, string]> = [];
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    if (key) params.push([key, p.slice(eq + 1).trim()]);
  }
  return { value: (parts[0] ?? '').trim(), params };
}

function stripComments(text: string): string {
  if (!text.includes('(')) return text;
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      if (depth === 0) out += c + text[i + 1];
      i++;
    } else if (c === '"' && depth === 0) {
      quoted = !quoted;
      out += c;
    } else if (c === '(' && !quoted) depth++;
    else if (c === ')' && !quoted && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/**
 * Lines of a region (RFC 3501 body size in text lines): the number of line ends. A last line
 * without one (a part's text before its boundary, whose CRLF belongs to the boundary) adds none,
 * as Dovecot and c-client count.
 */
export function countLines(buffer: Buffer, start: number, end: number): number {
  let lines = 0;
  let pos = buffer.indexOf(0x0a, start);
  while (pos >= 0 && pos < end) {
    lines++;
    pos = buffer.indexOf(0x0a, pos + 1);
  }
  return lines;
}
