export { type AcceptedRecipient, type AcceptInput, acceptMessage, insertAcceptedMessage } from './accept.js';
export { insertSmallMessages, SMALL_MESSAGE_LIMIT, type SmallAcceptInput } from './accept-batch.js';
export { AcceptBatcher, type ReplayableAccept } from './accept-batcher.js';
export { deterministicUuid } from './deterministic-id.js';
export {
  loadRecipientAddresses,
  loadSpoolMessage,
  loadSpoolMessages,
  type SpoolMessage,
  type SpoolRecipient,
} from './load.js';
export { PeriodicPass } from './periodic.js';
export {
  markRecipientsAndComplete,
  markRouted,
  type RecipientState,
  type RecipientUpdate,
} from './recipients.js';
export { type RetentionOptions, type RetentionPass, StorageRetention } from './retention.js';
export { MessageTooLargeError, SpooledBody } from './spooled-body.js';
export { SpoolSweeper, type SweeperOptions } from './sweeper.js';
