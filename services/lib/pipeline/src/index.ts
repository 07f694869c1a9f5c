export { type AcceptedMessage, publishRoutingJobs } from './hand-over.js';
export type {
  LocalDeliveryJob as LocalDeliveryJobPayload,
  MailboxChangeEvent as MailboxChangeEventPayload,
  OutboundJob as OutboundJobPayload,
  RoutingJob as RoutingJobPayload,
} from './jobs.js';
export {
  LocalDeliveryJob,
  MailboxChangeEvent,
  mailboxEventSubject,
  OutboundJob,
  RoutingJob,
} from './jobs.js';
export { consumers, setupPipeline, streams, subjects } from './topology.js';
