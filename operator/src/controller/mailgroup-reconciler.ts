import type { SenderPolicy } from '@hermod/accounts';
import { GROUP_KIND, GROUP_PLURAL, MailGroup } from '../api/v1alpha1/mailuser.js';
import type { Informer } from '../kube/informer.js';
import type { ReconcileResult, Reconciler } from './controller.js';
import type { AccountsPort } from './mailuser-reconciler.js';
import {
  ACCOUNT_FINALIZER,
  ADOPT_ANNOTATION,
  cachedResource,
  domainCondition,
  isRefusal,
  type ResourceContext,
  ResourceKind,
  refusalReason,
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

/**
 * reconcile(namespace/name) converges one MailGroup into the accounts store (routing expands it at
 * delivery and applies its sender policy at RCPT). Deleted: the group is removed.
 */
export class MailGroupReconciler implements Reconciler {
  private readonly kind: ResourceKind;

  constructor(private readonly o: MailGroupReconcilerOptions) {
    this.kind = new ResourceKind(GROUP_KIND, GROUP_PLURAL, o);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const group = cachedResource(this.o.mailGroups, key, MailGroup);
    if (!group) return {};
    const owner = this.kind.owner(group);
    if (group.metadata.deletionTimestamp) {
      if (!group.metadata.finalizers?.includes(ACCOUNT_FINALIZER)) return {};
      if (await this.o.accounts.removeGroup(owner, group.spec.address))
        await this.kind.event(group, 'Normal', 'GroupDeleted', `${group.spec.address} removed`);
      await this.kind.removeFinalizer(group);
      return {};
    }
    await this.kind.addFinalizer(group);
    const domain = domainCondition(this.o.mailDomains, group.spec.address);
    const memberCount = { memberCount: new Set(group.spec.members.map((m) => m.toLowerCase())).size };
    if (domain.status !== 'True') {
      await this.kind.writeStatus(
        group,
        [
          domain,
          { type: 'GroupSynced', status: 'False', reason: 'WaitingForDomain', message: domain.message },
        ],
        memberCount,
      );
      return {};
    }
    let changed: boolean;
    try {
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
      changed = result.changed;
      if (result.changed)
        await this.kind.event(
          group,
          'Normal',
          result.adopted ? 'GroupAdopted' : 'GroupApplied',
          `${group.spec.address}: ${memberCount.memberCount} members, senders ${group.spec.allowedSenders}`,
        );
    } catch (error) {
      if (!isRefusal(error)) throw error;
      const reason = refusalReason(error);
      await this.kind.writeStatus(
        group,
        [domain, { type: 'GroupSynced', status: 'False', reason, message: error.message }],
        memberCount,
      );
      return reason === 'Conflict' ? { requeueAfterMs: 30_000 } : {};
    }
    await this.kind.writeStatus(
      group,
      [
        domain,
        {
          type: 'GroupSynced',
          status: 'True',
          reason: 'Synced',
          message: `group ${group.spec.address} matches the spec`,
        },
      ],
      memberCount,
      !changed,
    );
    return {};
  }
}
