import type { SenderPolicy } from '@hermod/accounts';
import { GROUP_KIND, GROUP_PLURAL, MailGroup } from '../api/v1alpha1/mailuser.js';
import type { Informer } from '../kube/informer.js';
import type { AccountsPort } from './mailuser-reconciler.js';
import {
  ADOPT_ANNOTATION,
  OwnedResourceReconciler,
  type ResourceContext,
  type SyncOutcome,
} from './owned-resource.js';

export interface MailGroupReconcilerOptions extends ResourceContext {
  mailGroups: Informer;
  mailDomains: Informer;
  accounts: AccountsPort;
}

const policies: Record<MailGroup['spec']['allowedSenders'], SenderPolicy> = {
  Anyone: 'anyone',
  Members: 'members',
  Listed: 'listed',
  Domain: 'domain',
};

const memberCount = (group: MailGroup) => ({
  memberCount: new Set(group.spec.members.map((m) => m.toLowerCase())).size,
});

/**
 * reconcile(namespace/name) converges one MailGroup into the accounts store (routing expands it at
 * delivery and applies its sender policy at RCPT), through the lifecycle all owned resources share
 * (OwnedResourceReconciler). Deleted: the group is removed.
 */
export class MailGroupReconciler extends OwnedResourceReconciler<MailGroup> {
  protected readonly syncedType = 'GroupSynced';

  constructor(private readonly o: MailGroupReconcilerOptions) {
    super(GROUP_KIND, GROUP_PLURAL, o, o.mailGroups, MailGroup, o.mailDomains);
  }

  protected keptStatus(group: MailGroup) {
    return memberCount(group);
  }

  protected async release(group: MailGroup, owner: string): Promise<void> {
    if (await this.o.accounts.removeGroup(owner, group.spec.address))
      await this.kind.event(group, 'Normal', 'GroupDeleted', `${group.spec.address} removed`);
  }

  protected async sync(group: MailGroup, owner: string): Promise<SyncOutcome> {
    const count = memberCount(group);
    const result = await this.o.accounts.applyGroup(
      owner,
      {
        address: group.spec.address,
        displayName: group.spec.displayName,
        members: group.spec.members,
        senderPolicy: policies[group.spec.allowedSenders],
        allowedSenders: group.spec.senders,
      },
      { adopt: group.metadata.annotations?.[ADOPT_ANNOTATION] === 'true' },
    );
    if (result.changed)
      await this.kind.event(
        group,
        'Normal',
        result.adopted ? 'GroupAdopted' : 'GroupApplied',
        `${group.spec.address}: ${count.memberCount} members, senders ${group.spec.allowedSenders}`,
      );
    return {
      synced: true,
      message: `group ${group.spec.address} matches the spec`,
      status: count,
      announceReady: !result.changed,
    };
  }
}
