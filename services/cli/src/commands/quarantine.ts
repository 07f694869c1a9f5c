import { hostname, userInfo } from 'node:os';
import { publishJob } from '@hermod/nats';
import { subjects } from '@hermod/pipeline';
import {
  deleteQuarantined,
  listQuarantine,
  type QuarantineEntry,
  QuarantineNotFoundError,
  releaseQuarantined,
  showQuarantined,
} from '@hermod/quarantine';
import { type CliCommand, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod quarantine: messages the filtering gateway held instead of delivering

Usage:
  hermod quarantine list [--recipient A] [--kind malware|policy|spam] [--released] [--limit N] [--json]
  hermod quarantine show <id> [--json]
  hermod quarantine release <id>... [--recipient A] [--actor NAME] [--json]   deliver, exactly once
  hermod quarantine delete <id>... [--recipient A] [--actor NAME] [--json]

An id is the spool id the message got at accept time (also in the recipient's notice). Every
release and delete is written to the audit log with the actor (default: the login user and host).
--released lists released entries too (they stay, marked, until their retention ends).
--recipient on release or delete acts for that recipient only (the others stay held), as a
recipient's own release from the mailbox does (a keyword or folder on the notice; docs).`;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function ids(positional: string[]): string[] {
  if (positional.length === 0) throw new UsageError('give at least one quarantine id');
  for (const id of positional) if (!uuid.test(id)) throw new UsageError(`'${id}' is not a quarantine id`);
  return positional;
}

const line = (e: QuarantineEntry) =>
  `${e.id}  ${e.quarantinedAt.toISOString()}  ${e.kind.padEnd(7)} ${e.reason}  from <${e.mailFrom}> to ${e.recipients.join(',')}` +
  `${e.subject ? `  "${e.subject.slice(0, 60)}"` : ''}${e.releasedAt ? `  released ${e.releasedAt.toISOString()} by ${e.releasedBy}` : ''}` +
  `${!e.releasedAt && e.releasedTo.length > 0 ? `  released to ${e.releasedTo.join(',')}` : ''}`;

export const quarantineCommand: CliCommand = {
  name: 'quarantine',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        const flags = parseFlags(rest, {
          values: ['recipient', 'kind', 'limit'],
          switches: ['json', 'released'],
        });
        if (flags.positional.length > 0) throw new UsageError('list takes no ids');
        const limit = flags.values.limit === undefined ? 100 : Number(flags.values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
        const entries = await listQuarantine(await ctx.db(), {
          ...(flags.values.recipient !== undefined ? { recipient: flags.values.recipient } : {}),
          ...(flags.values.kind !== undefined ? { kind: flags.values.kind } : {}),
          includeReleased: flags.switches.has('released'),
          limit,
        });
        if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        else if (entries.length === 0) ctx.stdout.write('no quarantined messages (for this selection)\n');
        else for (const e of entries) ctx.stdout.write(`${line(e)}\n`);
        return 0;
      }
      case 'show': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const [id] = ids(flags.positional);
        try {
          const shown = await showQuarantined(await ctx.db(), id!);
          if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
          else
            ctx.stdout.write(
              `${line(shown.entry)}\nexpires ${shown.entry.expiresAt.toISOString()}\n\n${shown.header}\n` +
                shown.audit.map((a) => `${a.at.toISOString()}  ${a.action}  by ${a.actor}\n`).join(''),
            );
          return 0;
        } catch (error) {
          if (!(error instanceof QuarantineNotFoundError)) throw error;
          ctx.stderr.write(`hermod quarantine: ${error.message}\n`);
          return 1;
        }
      }
      case 'release':
      case 'delete': {
        const flags = parseFlags(rest, { values: ['actor', 'recipient'], switches: ['json'] });
        const scope = flags.values.recipient !== undefined ? { recipient: flags.values.recipient } : {};
        const chosen = ids(flags.positional);
        const actor = flags.values.actor ?? `${userInfo().username}@${hostname()} (cli)`;
        const pool = await ctx.db();
        // A release is handed to routing over JetStream: connect before anything changes.
        const js = sub === 'release' ? (await ctx.nats()).jetstream() : undefined;
        const results: Array<{ id: string; spoolId?: string; alreadyReleased?: boolean; error?: string }> =
          [];
        let failed = 0;
        for (const id of chosen) {
          try {
            if (js) {
              const released = await releaseQuarantined(pool, id, actor, scope);
              // Again on a repeated release: the first hand-over may be what was lost (deduplicated by id).
              await publishJob(
                js,
                subjects.routing,
                { spoolId: released.spoolId },
                { msgId: `routing-${released.spoolId}` },
              );
              results.push({ id, ...released });
            } else {
              await deleteQuarantined(pool, id, actor, scope);
              results.push({ id });
            }
          } catch (error) {
            if (!(error instanceof QuarantineNotFoundError)) throw error;
            failed++;
            results.push({ id, error: error.message });
          }
        }
        if (flags.switches.has('json'))
          ctx.stdout.write(`${JSON.stringify({ action: sub, results }, null, 2)}\n`);
        else
          for (const r of results)
            ctx.stdout.write(
              r.error
                ? `${r.id}  not found\n`
                : sub === 'release'
                  ? `${r.id}  ${r.alreadyReleased ? 'already released' : 'released'} as ${r.spoolId}\n`
                  : `${r.id}  deleted\n`,
            );
        return failed > 0 ? 1 : 0;
      }
      default:
        throw subcommandError(sub, ['list', 'show', 'release', 'delete']);
    }
  },
};
