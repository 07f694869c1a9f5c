import { type LocalDestination, localDestination } from '@hermod/pipeline';
import type { routingV1 } from '@hermod/proto';

/**
 * The local mailbox routing named for each accepted RCPT, kept until end of DATA so the message
 * can be written routed (and go straight to mda) instead of being routed a second time. Keyed by
 * smtp-server's address object, which is the entry it keeps in session.envelope.rcptTo.
 */
export class RecipientRoutes {
  private readonly routes = new WeakMap<object, routingV1.LocalRoute>();

  remember(address: object, answer: routingV1.ValidateRecipientResponse): void {
    if (answer.localRoute) this.routes.set(address, answer.localRoute);
    else this.routes.delete(address);
  }

  /** The recipient's local destination, in a policy rule's folder when the rules named one. */
  destinationOf(address: object, folder?: string): LocalDestination | undefined {
    const route = this.routes.get(address);
    if (!route) return undefined;
    return localDestination(
      {
        accountId: route.accountId,
        mailbox: route.mailbox,
        rule: route.rule,
        ...(route.tag ? { tag: route.tag } : {}),
      },
      folder,
    );
  }
}
