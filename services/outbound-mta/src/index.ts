// What other packages (the `hermod` CLI, tests, benchmarks) may use of the outbound MTA.
export { outboundEnv, parseDuration } from './config.js';
export {
  bounceQueued,
  deleteQueued,
  holdQueued,
  listQueue,
  operatorFinishDeps,
  type QueueItem,
  type QueueSelection,
  type QueueState,
  queueStates,
  type RemoveResult,
  releaseQueued,
  retryQueued,
} from './queue/admin.js';
export { enqueueRecipients } from './queue/enqueue.js';
export { OUTBOUND_WAKE_SUBJECT } from './wake.js';
