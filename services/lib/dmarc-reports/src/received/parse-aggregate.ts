import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type ReceivedRecord, type ReceivedReport, type ReportLimits, ReportParseError } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed XML is walked and checked field by field
type Node = any;

const parser = new XMLParser({
  // Entities are never expanded and a document type is refused before parsing: no entity tricks.
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  // No isArray callback (it doubles the parse time): elements that may repeat are made lists below.
});

/** A whole record element (records do not nest; the document was validated before this is used). */
const recordElements = /<((?:[\w.-]+:)?record)[\s>][\s\S]*?<\/\1\s*>/g;
const RECORDS_PER_SLICE = 250;

const list = (value: Node): Node[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const text = (value: Node): string =>
  typeof value === 'string' ? value : value == null ? '' : String(value);

function required(value: Node, what: string): string {
  const s = text(value);
  if (s === '') throw new ReportParseError('invalid', `aggregate report without ${what}`);
  return s;
}

function epoch(value: Node, what: string): Date {
  const s = required(value, what);
  if (!/^\d{1,12}$/.test(s)) throw new ReportParseError('invalid', `${what} is not seconds since the epoch`);
  return new Date(Number(s) * 1000);
}

const dispositions = new Set(['none', 'quarantine', 'reject']);

/**
 * An RFC 7489 appendix C aggregate report (`feedback`), read leniently where senders differ
 * (namespaces, optional fields) and strictly where the numbers come from: every record needs a
 * source IP, a count and the evaluated policy.
 */
export async function parseAggregateReport(xml: Buffer, limits: ReportLimits): Promise<ReceivedReport> {
  const source = xml.toString('utf8').replace(/^\uFEFF/, '');
  if (/<!DOCTYPE|<!ENTITY/i.test(source))
    throw new ReportParseError('malformed', 'a document type declaration is not accepted');
  // The record limit is checked before the (comparatively slow) parse: opening tags counted.
  let opened = 0;
  for (const _ of source.matchAll(/<(?:[\w.-]+:)?record[\s>]/g))
    if (++opened > limits.maxRecords)
      throw new ReportParseError('too-large', `over ${limits.maxRecords} records`);
  const valid = XMLValidator.validate(source);
  if (valid !== true)
    throw new ReportParseError('malformed', `XML: ${valid.err.msg} (line ${valid.err.line})`);
  // The document without its records (metadata, policy), then the records in slices with the
  // event loop free in between: a large report does not hold up the deliveries of the replica.
  const feedback: Node = parser.parse(source.replace(recordElements, '')).feedback;
  if (!feedback || typeof feedback !== 'object')
    throw new ReportParseError('invalid', 'no feedback element: not a DMARC aggregate report');
  const meta: Node = feedback.report_metadata ?? {};
  const published: Node = feedback.policy_published ?? {};
  const rows: Node[] = [];
  let slice: string[] = [];
  const parseSlice = async () => {
    rows.push(...list(parser.parse(`<records>${slice.join('')}</records>`).records?.record));
    slice = [];
    await new Promise((resolve) => setImmediate(resolve));
  };
  for (const match of source.matchAll(recordElements)) {
    slice.push(match[0]);
    if (slice.length === RECORDS_PER_SLICE) await parseSlice();
  }
  if (slice.length > 0) await parseSlice();
  const records: ReceivedRecord[] = rows.map((record: Node, i: number) => {
    const row: Node = record?.row ?? {};
    const evaluated: Node = row.policy_evaluated ?? {};
    const count = required(row.count, `a count in record ${i + 1}`);
    if (!/^\d{1,15}$/.test(count)) throw new ReportParseError('invalid', `record ${i + 1}: count '${count}'`);
    const disposition = required(evaluated.disposition, `a disposition in record ${i + 1}`).toLowerCase();
    if (!dispositions.has(disposition))
      throw new ReportParseError('invalid', `record ${i + 1}: disposition '${disposition}'`);
    const dkim = text(evaluated.dkim).toLowerCase();
    const spf = text(evaluated.spf).toLowerCase();
    const auth: Node = record.auth_results ?? {};
    return {
      sourceIp: required(row.source_ip, `a source_ip in record ${i + 1}`),
      result: dkim === 'pass' || spf === 'pass' ? 'pass' : 'fail',
      disposition,
      count: Number(count),
      details: {
        dkim,
        spf,
        headerFrom: text(record.identifiers?.header_from),
        envelopeFrom: text(record.identifiers?.envelope_from),
        reasons: list(evaluated.reason)
          .map((r: Node) => text(r?.type))
          .filter(Boolean),
        dkimResults: list(auth.dkim).map((d: Node) => ({
          domain: text(d?.domain),
          selector: text(d?.selector),
          result: text(d?.result),
        })),
        spfResults: list(auth.spf).map((s: Node) => ({
          domain: text(s?.domain),
          scope: text(s?.scope),
          result: text(s?.result),
        })),
      },
    };
  });
  return {
    kind: 'dmarc',
    orgName: required(meta.org_name, 'org_name'),
    contact: text(meta.email),
    reportId: required(meta.report_id, 'report_id'),
    policyDomain: required(published.domain, 'policy_published domain').toLowerCase(),
    begin: epoch(meta.date_range?.begin, 'date_range begin'),
    end: epoch(meta.date_range?.end, 'date_range end'),
    policy: Object.fromEntries(
      ['adkim', 'aspf', 'p', 'sp', 'pct', 'fo', 'np']
        .filter((k) => published[k] !== undefined)
        .map((k) => [k, text(published[k])]),
    ),
    records,
  };
}
