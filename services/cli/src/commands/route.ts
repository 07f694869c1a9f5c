import { credentials, Metadata } from '@grpc/grpc-js';
import { routingV1 } from '@hermod/proto';
import { type CliCommand, parseFlags, UsageError } from '../command.js';

const help = `hermod route: how the routing service decides, right now, from live configuration

Usage:
  hermod route explain <address> [--json]

Prints the domain's exchanger mode (and for auto, the effective mode and why), the rule that
matched (account, account-alias, domain-alias, subaddress, catch-all, remote-domain, backup-domain,
not-served, ...) and the destinations. Talks to routing's gRPC at ROUTING_GRPC_ADDRESS
(default 127.0.0.1:7001).`;

export const routeCommand: CliCommand = {
  name: 'route',
  summary: 'explain how an address is routed',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub !== 'explain')
      throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand (explain)');
    const flags = parseFlags(rest, { switches: ['json'] });
    const [address, extra] = flags.positional;
    if (!address || extra) throw new UsageError('explain takes exactly one address');
    const target = ctx.env.ROUTING_GRPC_ADDRESS ?? '127.0.0.1:7001';
    const client = new routingV1.RoutingServiceClient(target, credentials.createInsecure());
    try {
      const answer = await new Promise<routingV1.ExplainRouteResponse>((resolve, reject) =>
        client.explainRoute(
          { address },
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
      ctx.stderr.write(`hermod route: routing at ${target} did not answer: ${(error as Error).message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};
