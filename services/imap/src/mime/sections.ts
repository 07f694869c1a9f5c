import { astring } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { MimeNode } from './parse-mime.js';

/** A parsed BODY[...] section: part path plus what of it. */
export interface Section {
  path: number[];
  kind: 'full' | 'header' | 'header-fields' | 'header-fields-not' | 'text' | 'mime';
  fields: string[];
}

/** Parses the inside of BODY[...] ('1.2.HEADER.FIELDS (From To)'). */
export function parseSection(text: string): Section {
  const m =
    /^((?:[1-9]\d{0,8}\.)*(?:[1-9]\d{0,8})?)\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?:\s+\(([^()]*)\))?$/i.exec(
      text,
    );
  if (!m) throw new BadArgumentsError('Invalid section');
  const path = m[1] ? m[1].replace(/\.$/, '').split('.').filter(Boolean).map(Number) : [];
  const specifier = (m[2] ?? '').toUpperCase();
  if (m[1]?.endsWith('.') && !specifier) throw new BadArgumentsError('Invalid section');
  if (!m[1] && text.startsWith('.')) throw new BadArgumentsError('Invalid section');
  const kind =
    specifier === 'HEADER.FIELDS.NOT'
      ? 'header-fields-not'
      : specifier === 'HEADER.FIELDS'
        ? 'header-fields'
        : specifier === 'HEADER'
          ? 'header'
          : specifier === 'TEXT'
            ? 'text'
            : specifier === 'MIME'
              ? 'mime'
              : 'full';
  if (kind === 'mime' && path.length === 0) throw new BadArgumentsError('MIME needs a part number');
  const wantsFields = kind === 'header-fields' || kind === 'header-fields-not';
  if (wantsFields !== (m[3] !== undefined)) throw new BadArgumentsError('Invalid header field list');
  const fields = wantsFields
    ? m[3]!
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((f) => f.replace(/^"|"$/g, ''))
    : [];
  if (wantsFields && fields.length === 0) throw new BadArgumentsError('Empty header field list');
  return { path, kind, fields };
}

/** The canonical text of a section for the FETCH response label. */
export function formatSection(section: Section): string {
  const path = section.path.join('.');
  const spec = {
    full: '',
    header: 'HEADER',
    'header-fields': 'HEADER.FIELDS',
    'header-fields-not': 'HEADER.FIELDS.NOT',
    text: 'TEXT',
    mime: 'MIME',
  }[section.kind];
  const fields =
    section.fields.length > 0 ? ` (${section.fields.map((f) => astring(f.toUpperCase())).join(' ')})` : '';
  return [path, spec].filter(Boolean).join('.') + fields;
}

/** Which node a part path names; undefined when it does not exist. */
export function resolvePart(root: MimeNode, path: number[]): MimeNode | undefined {
  let node = root;
  // The root acts as a message; a message/rfc822 part's numbers refer into its encapsulated message.
  let container: MimeNode | undefined = root;
  for (const n of path) {
    if (!container) return undefined;
    if (container.children) {
      const child = container.children[n - 1];
      if (!child) return undefined;
      node = child;
    } else if (n === 1) {
      node = container;
    } else {
      return undefined;
    }
    container = node.message ?? (node.children ? node : undefined);
  }
  return node;
}

export interface ByteRange {
  start: number;
  end: number;
  /** Header fields to keep/drop: the range is a header block that must be filtered. */
  filter?: { names: string[]; exclude: boolean };
}

/** The byte range a section refers to, or undefined for a part that does not exist (sent as empty). */
export function sectionRange(root: MimeNode, section: Section): ByteRange | undefined {
  const node = resolvePart(root, section.path);
  if (!node) return undefined;
  // HEADER/TEXT of a part refer to the message inside a message/rfc822 part.
  const message = section.path.length === 0 ? root : node.message;
  switch (section.kind) {
    case 'full':
      return section.path.length === 0
        ? { start: root.headerStart, end: root.bodyEnd }
        : { start: node.bodyStart, end: node.bodyEnd };
    case 'mime':
      return { start: node.headerStart, end: node.bodyStart };
    case 'header':
      return message ? { start: message.headerStart, end: message.bodyStart } : undefined;
    case 'text':
      return message ? { start: message.bodyStart, end: message.bodyEnd } : undefined;
    case 'header-fields':
    case 'header-fields-not':
      return message
        ? {
            start: message.headerStart,
            end: message.bodyStart,
            filter: {
              names: section.fields.map((f) => f.toLowerCase()),
              exclude: section.kind === 'header-fields-not',
            },
          }
        : undefined;
  }
}
