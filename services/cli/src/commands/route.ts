import { credentials, Metadata } from '@grpc/grpc-js';
import { normalizeDomain, parseAddress } from '@hermod/address';
import { routingV1 } from '@hermod/proto';
import { type CliCommand, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod route: how the routing service decides, right now, from live configuration

Usage:
  hermod route explain <address> [--json]
  hermod route explain @<domain> [--json]     the domain's mode, whether it is served here

Prints the domain's exchanger mode (and for auto, the effective mode and why), the rule that
matched (account, account-alias, domain-alias, subaddress, catch-all, remote-domain, backup-domain,
not-served, ...) and the destinations. A domain that is not served here is shown as authenticated
submission would route it. Talks to routing's gRPC at ROUTING_GRPC_ADDRESS (by default the local
platform's).`;

/** An address, or @domain for the domain as a whole; anything else is a usage mistake. */
function target(value: string): string {
  if (value.startsWith('@')) {
    const domain = normalizeDomain(value.slice(1));
    if (!domain) throw new UsageError(`'${value}' is not a valid address or @domain`);
    return `@${domain}`;
  }
  try {
    parseAddress(value);
    return value;
  } catch (error) {
    throw new UsageError(`'${value}' is not a valid address: ${(error as Error).message}`);
  }
}

/** grpc-js appends an empty "Resolution note:" to connection errors; the rest is what happened. */
const grpcReason = (error: Error & { details?: string }) =>
  (error.details || error.message).replace(/\s*Resolution note:\s*$/, '');

export const routeCommand: CliCommand = {
  name: 'route',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub !== 'explain') throw subcommandError(sub, ['explain']);
    const flags = parseFlags(rest, { switches: ['json'] });
    const [address, extra] = flags.positional;
    if (!address || extra) throw new UsageError('explain takes exactly one address');
    const asked = target(address);
    const routing = ctx.routingAddress();
    const client = new routingV1.RoutingServiceClient(routing, credentials.createInsecure());
    try {
      const answer = await new Promise<routingV1.ExplainRouteResponse>((resolve, reject) =>
        client.explainRoute(
          { address: asked },
          new Metadata(),
          { deadline: new Date(Date.now() + 10_000) },
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      );
      if (flags.switches.has('json')) {
        ctx.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
        return 0;
      }
      const mode =
        answer.exchanger === 'auto'
          ? `auto (effective: ${answer.effectiveExchanger || 'undecided'})`
          : answer.exchanger || 'not served';
      ctx.stdout.write(
        `address:      ${answer.canonicalAddress}\n` +
          `domain:       ${answer.domain}\n` +
          `mode:         ${mode}\n` +
          `rule:         ${answer.rule}\n` +
          `destinations: ${answer.destinations.length > 0 ? answer.destinations.join('\n              ') : '(none)'}\n` +
          `decision:     ${answer.explanation}\n`,
      );
      return 0;
    } catch (error) {
      ctx.stderr.write(`hermod route: routing at ${routing} did not answer: ${grpcReason(error as Error)}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
