import { randomBytes } from 'node:crypto';
import type { Logger } from '@hermod/logging';
import type { KubeClient } from './kube-client.js';
import type { TokenBucket } from './token-bucket.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/**
 * Records core/v1 Events on objects (what `kubectl describe` shows). Best effort: a failed event
 * never fails a reconcile. With a budget, events over it are dropped (and counted through
 * onDropped) instead of sent: creating a thousand MailUsers at once must not cost a thousand
 * Event writes on top of the resources' own, the API server's write rate being the limit then.
 */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly budget?: { bucket: TokenBucket; onDropped: (reason: string) => void },
  ) {}

  async record(
    target: EventTarget,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    if (this.budget && !this.budget.bucket.take()) {
      this.budget.onDropped(reason);
      return;
    }
    const namespace = target.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    try {
      await this.client.create(
        `/api/v1/namespaces/${namespace}/events`,
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${target.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.metadata.name,
            namespace,
            uid: target.metadata.uid,
            resourceVersion: target.metadata.resourceVersion,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
        this.component,
      );
    } catch (error) {
      this.logger.warn({ err: error, reason }, 'could not record event');
    }
  }
}
