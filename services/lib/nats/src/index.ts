export { connectNats, type NatsOptions } from './connect.js';
export { ensureStream, ensureConsumer, type StreamDefinition, type ConsumerDefinition } from './streams.js';
export { publishJob, type PublishOptions } from './publish.js';
export { consumeJobs, type JobOutcome, type ReceivedJob, type ConsumeJobsOptions, type JobConsumer } from './consume.js';
export { natsHeaderCarrier } from './trace-headers.js';
export type { NatsConnection, JetStreamClient, JetStreamManager, KV } from 'nats';
