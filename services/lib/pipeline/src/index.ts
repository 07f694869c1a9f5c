export { streams, subjects, consumers, setupPipeline } from './topology.js';
export { RoutingJob, LocalDeliveryJob, OutboundJob, MailboxChangeEvent, mailboxEventSubject } from './jobs.js';
export type {
  RoutingJob as RoutingJobPayload,
  LocalDeliveryJob as LocalDeliveryJobPayload,
  OutboundJob as OutboundJobPayload,
  MailboxChangeEvent as MailboxChangeEventPayload,
} from './jobs.js';
