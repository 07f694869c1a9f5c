import { listReceivedReports, type ReceivedReportSummary, showReceivedReport } from '@hermod/dmarc-reports';
import { type CliCommand, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod reports: DMARC aggregate and TLS-RPT reports received for our own domains

Usage:
  hermod reports list [--domain D] [--since WHEN] [--kind dmarc|tlsrpt] [--limit N] [--json]
  hermod reports show <id> [--json]

mda reads the reports that arrive at the rua addresses (MDA_REPORT_ADDRESSES, postmaster by
default) when it delivers them. --since takes a date (2026-12-01, 2026-12-01T12:00:00Z) or an age
(36h, 7d) and lists the reports whose period ends at or after it. The totals are messages that
passed/failed DMARC (dmarc) or successful/failed TLS sessions (tlsrpt).`;

const age = /^(\d+)([smhd])$/;
const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function parseSince(value: string, now = Date.now()): Date {
  const relative = age.exec(value);
  if (relative) return new Date(now - Number(relative[1]) * unit[relative[2] as keyof typeof unit]);
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime()))
    throw new UsageError(`--since: '${value}' is neither a date nor an age like 7d`);
  return date;
}

const day = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const line = (r: ReceivedReportSummary) => {
  const [ok, bad] = r.kind === 'dmarc' ? ['pass', 'fail'] : ['successful', 'failed'];
  return (
    `${String(r.id).padStart(5)}  ${r.kind.padEnd(6)} ${r.policyDomain}  ${day(r.begin)}..${day(r.end)}  ` +
    `${r.orgName}  ${ok} ${r.passed}  ${bad} ${r.failed}  (${r.records} records, report id ${r.reportId})`
  );
};

export const reportsCommand: CliCommand = {
  name: 'reports',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        const flags = parseFlags(rest, { values: ['domain', 'since', 'kind', 'limit'], switches: ['json'] });
        if (flags.positional.length > 0) throw new UsageError('list takes no arguments');
        const kind = flags.values.kind;
        if (kind !== undefined && kind !== 'dmarc' && kind !== 'tlsrpt')
          throw new UsageError('--kind is dmarc or tlsrpt');
        const limit = flags.values.limit === undefined ? 100 : Number(flags.values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
        const reports = await listReceivedReports(await ctx.db(), {
          ...(flags.values.domain !== undefined ? { domain: flags.values.domain } : {}),
          ...(flags.values.since !== undefined ? { since: parseSince(flags.values.since) } : {}),
          ...(kind !== undefined ? { kind } : {}),
          limit,
        });
        if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
        else if (reports.length === 0) ctx.stdout.write('no received reports (for this selection)\n');
        else for (const r of reports) ctx.stdout.write(`${line(r)}\n`);
        return 0;
      }
      case 'show': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const [id, ...more] = flags.positional;
        if (id === undefined || more.length > 0 || !/^\d+$/.test(id))
          throw new UsageError('give one report id');
        const report = await showReceivedReport(await ctx.db(), Number(id));
        if (!report) {
          ctx.stderr.write(`hermod reports: no report ${id}\n`);
          return 1;
        }
        if (flags.switches.has('json')) {
          ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          return 0;
        }
        ctx.stdout.write(
          `${line(report)}\ncontact ${report.contact || '-'}\npolicy ${JSON.stringify(report.policy)}\n\n`,
        );
        for (const l of report.lines)
          ctx.stdout.write(
            `${(l.sourceIp || '-').padEnd(39)} ${l.result.padEnd(28)} ${(l.disposition || '').padEnd(10)} ${l.count}  ${JSON.stringify(l.details)}\n`,
          );
        return 0;
      }
      default:
        throw subcommandError(sub, ['list', 'show']);
    }
  },
};
