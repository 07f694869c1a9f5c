export type { JetStreamClient, JetStreamManager, KV, NatsConnection } from 'nats';
export { connectNats, type NatsOptions, onReconnect, watchConnected } from './connect.js';
export {
  type ConsumeJobsOptions,
  consumeJobs,
  type JobConsumer,
  type JobOutcome,
  type ReceivedJob,
  settleBundle,
} from './consume.js';
export {
  type BundledJob,
  bundleMsgId,
  JOB_BUNDLE_HEADER,
  type PublishOptions,
  publishJob,
  publishJobs,
} from './publish.js';
export { type ConsumerDefinition, ensureConsumer, ensureStream, type StreamDefinition } from './streams.js';
export { natsHeaderCarrier } from './trace-headers.js';
