import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from 'nats';

export interface StreamDefinition {
  name: string;
  subjects: string[];
  /** Work-queue streams delete a message once a consumer acknowledges it. */
  retention: 'workqueue' | 'limits';
  replicas?: number;
  duplicateWindowMs?: number;
  maxAgeMs?: number;
}

export interface ConsumerDefinition {
  stream: string;
  durable: string;
  ackWaitMs: number;
  maxAckPending?: number;
  filterSubject?: string;
}

/** Creates the stream, or updates it to this definition: safe for every replica to call at start-up. */
export async function ensureStream(jsm: JetStreamManager, def: StreamDefinition): Promise<void> {
  const config: Partial<StreamConfig> = {
    name: def.name,
    subjects: def.subjects,
    retention: def.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: def.replicas ?? 1,
    duplicate_window: nanos(def.duplicateWindowMs ?? 120_000),
    max_age: def.maxAgeMs ? nanos(def.maxAgeMs) : 0,
  };
  try {
    await jsm.streams.info(def.name);
    await jsm.streams.update(def.name, config);
  } catch (error) {
    if (!/stream not found/i.test((error as Error).message)) throw error;
    await jsm.streams.add(config);
  }
}

export async function ensureConsumer(jsm: JetStreamManager, def: ConsumerDefinition): Promise<void> {
  const config = {
    durable_name: def.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(def.ackWaitMs),
    max_ack_pending: def.maxAckPending ?? 1000,
    ...(def.filterSubject ? { filter_subject: def.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(def.stream, def.durable);
    await jsm.consumers.update(def.stream, def.durable, config);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
    await jsm.consumers.add(def.stream, config);
  }
}
