export {
  type AcceptedMessage,
  BusUnavailableError,
  handOverAccepted,
  publishSpoolJobs,
} from './hand-over.js';
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
export {
  type LocalDestination,
  type LocalRoute,
  localDestination,
  routedAtAccept,
} from './local-route.js';
export { consumers, setupPipeline, streams, subjects } from './topology.js';
