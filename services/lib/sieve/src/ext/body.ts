/** body (RFC 5173): :raw, :content and :text transforms over the message's MIME parts. */
import { COMPARATOR_TAGS, list, type Registry } from '../core.js';
import { decodePartBody, findHeader, flattenParts, type MimePart, parseParams } from '../message.js';
import type { Runtime } from '../runtime.js';
import { validateMatch } from './common.js';

function typeMatches(part: MimePart, wanted: string[]): boolean {
  const [type, subtype] = part.contentType.split('/');
  return wanted.some((w) => {
    const lw = w.toLowerCase();
    if (lw === '') return true;
    if (!lw.includes('/')) return type === lw;
    return `${type}/${subtype}` === lw;
  });
}

export function bodyValues(rt: Runtime, tags: Record<string, unknown>): string[] {
  const msg = rt.message;
  if (msg.body === '') return [];
  if (tags.raw !== undefined) return [Buffer.from(msg.body, 'latin1').toString('utf8')];
  const parts = flattenParts(msg.root());
  if (tags.content !== undefined) {
    const wanted = rt.elist(tags.content);
    const out: string[] = [];
    for (const p of parts) {
      if (!typeMatches(p, wanted)) continue;
      if (p.contentType.startsWith('multipart/')) {
        // prologue and epilogue of a multipart
        const b = p.body;
        const boundary = p.params.boundary;
        if (boundary) {
          const first = b.indexOf(`--${boundary}`);
          const last = b.lastIndexOf(`--${boundary}--`);
          let text = first > 0 ? b.slice(0, first) : '';
          if (last >= 0) text += b.slice(last + boundary.length + 4).replace(/^\r?\n/, '');
          out.push(text);
        }
        continue;
      }
      if (p.contentType === 'message/rfc822') {
        const child = p.children[0];
        if (child)
          out.push(
            Buffer.from(child.headers.map((h) => `${h.name}:${h.raw}\r\n`).join(''), 'latin1').toString(
              'utf8',
            ),
          );
        continue;
      }
      out.push(decodePartBody(p));
    }
    return out;
  }
  // :text (default): textual parts, HTML reduced to text
  const out: string[] = [];
  for (const p of parts) {
    if (p.children.length || !readableAsText(p)) continue;
    if (p.contentType === 'text/html' || p.contentType === 'application/xhtml+xml')
      out.push(htmlToText(decodePartBody(p)));
    else if (p.contentType.startsWith('text/')) out.push(decodePartBody(p));
  }
  return out;
}

const TRANSFER_ENCODINGS = new Set(['7bit', '8bit', 'binary', 'quoted-printable', 'base64']);
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/**
 * Whether :text may read a leaf part. Not when its transfer encoding is unknown (RFC 2045 6.4: such a
 * part is application/octet-stream), nor when its Content-Type is malformed (`text/plain/stupid`): RFC
 * 2045 5.2 only recommends reading that as text/plain, and Pigeonhole leaves such parts out.
 */
function readableAsText(p: MimePart): boolean {
  const cte = findHeader(p.headers, 'content-transfer-encoding');
  if (cte !== undefined && !TRANSFER_ENCODINGS.has(cte.toLowerCase())) return false;
  const ct = findHeader(p.headers, 'content-type');
  return ct === undefined || MEDIA_TYPE.test(parseParams(ct).value);
}

export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ');
}

export function registerBody(reg: Registry): void {
  reg.known.add('body');
  reg.add({
    name: 'body',
    kind: 'test',
    ext: 'body',
    pos: ['stringlist'],
    tags: {
      ...COMPARATOR_TAGS,
      raw: { group: 'transform' },
      content: { group: 'transform', arg: 'stringlist' },
      text: { group: 'transform' },
    },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[0]));
    },
    test(node, rt) {
      // RFC 5173: the body test does not set match variables
      return rt.match(node, bodyValues(rt, node.tags), list(node.pos[0]), false);
    },
  });
}
