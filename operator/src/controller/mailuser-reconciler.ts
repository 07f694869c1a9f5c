import type { AccountStore } from '@hermod/accounts';
import type { Logger } from '@hermod/logging';
import { MailUser, USER_KIND, USER_PLURAL } from '../api/v1alpha1/mailuser.js';
import type { Informer } from '../kube/informer.js';
import {
  ADOPT_ANNOTATION,
  OwnedResourceReconciler,
  type ResourceContext,
  type SyncOutcome,
} from './owned-resource.js';
import { parseQuantity } from './units.js';

export type AccountsPort = Pick<
  AccountStore,
  'applyManaged' | 'releaseManaged' | 'applyGroup' | 'removeGroup' | 'usage'
>;

export interface MailUserReconcilerOptions extends ResourceContext {
  mailUsers: Informer;
  mailDomains: Informer;
  /** Secrets of the watched namespaces (the password Secrets MailUsers reference). */
  secrets: Informer;
  accounts: AccountsPort;
  logger: Logger;
  /** How often usage in status is refreshed. */
  usageRefreshMs: number;
}

const human = (bytes: number): string => {
  for (const [unit, size] of [
    ['Ti', 1024 ** 4],
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const)
    if (bytes >= size) return `${Math.round((bytes / size) * 10) / 10}${unit}`;
  return `${bytes}`;
};

/**
 * reconcile(namespace/name) converges one MailUser into the accounts store through the lifecycle
 * all owned resources share (OwnedResourceReconciler): finalizer, then (once its domain has a Ready
 * MailDomain and its password Secret is there) the account as declared, then status with usage.
 * Deleted: the account is deleted or retained (spec.deletionPolicy).
 */
export class MailUserReconciler extends OwnedResourceReconciler<MailUser> {
  protected readonly syncedType = 'AccountSynced';

  constructor(private readonly o: MailUserReconcilerOptions) {
    super(USER_KIND, USER_PLURAL, o, o.mailUsers, MailUser, o.mailDomains);
  }

  /** Status fields other than conditions, as they are (a failing reconcile does not clear them). */
  protected keptStatus(user: MailUser): Record<string, unknown> {
    const { conditions: _c, observedGeneration: _g, ...rest } = user.status ?? {};
    return rest;
  }

  protected async release(user: MailUser, owner: string): Promise<void> {
    const policy = user.spec.deletionPolicy === 'Delete' ? 'delete' : 'retain';
    const acted = await this.o.accounts.releaseManaged(owner, user.spec.address, policy);
    if (acted)
      await this.kind.event(
        user,
        'Normal',
        policy === 'delete' ? 'AccountDeleted' : 'AccountRetained',
        policy === 'delete'
          ? `${user.spec.address} and its mail removed`
          : `${user.spec.address} kept with its mail, disabled and no longer managed`,
      );
  }

  protected async sync(user: MailUser, owner: string): Promise<SyncOutcome> {
    const ns = user.metadata.namespace ?? 'default';
    const ref = user.spec.password.secretRef;
    const secret = this.o.secrets.get(`${ns}/${ref.name}`);
    const encoded = (secret?.data as Record<string, string> | undefined)?.[ref.key];
    if (!secret || encoded === undefined) {
      const message = secret
        ? `Secret ${ref.name} has no key ${ref.key}`
        : `Secret ${ref.name} not found in ${ns}`;
      return { synced: false, reason: 'PasswordSecretMissing', message };
    }
    const result = await this.o.accounts.applyManaged(
      owner,
      {
        address: user.spec.address,
        displayName: user.spec.displayName,
        password: {
          source: `${ref.name}/${ref.key}@${secret.metadata.resourceVersion ?? ''}`,
          secret: Buffer.from(encoded, 'base64')
            .toString('utf8')
            .replace(/\r?\n$/, ''),
        },
        quotaBytes: user.spec.quota ? parseQuantity(user.spec.quota) : null,
        aliases: user.spec.aliases,
        sendAs: user.spec.sendAs,
        forwardTo: user.spec.forwarding?.to ?? [],
        forwardKeepCopy: user.spec.forwarding?.keepCopy ?? true,
        suspended: user.spec.suspended,
      },
      { adopt: user.metadata.annotations?.[ADOPT_ANNOTATION] === 'true' },
    );
    if (result.created) await this.kind.event(user, 'Normal', 'AccountCreated', `${result.address} created`);
    else if (result.adopted)
      await this.kind.event(user, 'Normal', 'AccountAdopted', `${result.address} taken over from the CLI`);
    else if (result.changed)
      await this.kind.event(user, 'Normal', 'AccountUpdated', `${result.address} updated`);
    // A new account's mailboxes are empty: no round trip to count them.
    const usage = result.created ? { bytes: 0, messages: 0 } : await this.o.accounts.usage(result.accountId);
    const limitBytes = user.spec.quota ? parseQuantity(user.spec.quota) : undefined;
    const used =
      limitBytes !== undefined
        ? `${human(usage.bytes)}/${user.spec.quota} (${Math.floor((usage.bytes / limitBytes) * 100)}%)`
        : human(usage.bytes);
    const previous = user.status?.quota;
    const same =
      previous?.usedBytes === usage.bytes &&
      previous.messages === usage.messages &&
      previous.limitBytes === limitBytes;
    return {
      synced: true,
      message: `account ${result.address} matches the spec`,
      status: {
        accountId: result.accountId,
        quota: {
          usedBytes: usage.bytes,
          messages: usage.messages,
          ...(limitBytes !== undefined ? { limitBytes } : {}),
          used,
          checkedAt:
            same && previous
              ? previous.checkedAt
              : this.o
                  .clock()
                  .toISOString()
                  .replace(/\.\d{3}Z$/, 'Z'),
        },
      },
      announceReady: !result.created,
      requeueAfterMs: this.o.usageRefreshMs,
    };
  }
}
