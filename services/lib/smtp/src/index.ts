export {
  type AcceptDeps,
  type AcceptedBody,
  type AcceptPipeline,
  acceptPipeline,
  bufferSource,
  stringArgs,
  withPrefix,
} from './accept-pipeline.js';
export { commandRulesPatched } from './command-rules.js';
export {
  acceptDisposition,
  type BodyScan,
  type Disposition,
  type QuarantineKind,
  type QuarantineRequest,
  refusalOf,
} from './disposition.js';
export { drainStream } from './drain-stream.js';
export { enhancedStatusCodesPatched, type LibraryRefusal } from './enhanced-status-codes.js';
export {
  envelopeEncodingError,
  messageTooBig,
  messageTooBigText,
  postmasterAddress,
  qualifyPostmaster,
  receivedProtocol,
  recipientEnvelopeError,
  senderEnvelopeRefusal,
  sessionRecipientRefusal,
} from './envelope-rules.js';
export { limitSessionErrors } from './error-limit.js';
export { headerAddresses } from './header-addresses.js';
export { type DecodeBearer, registerOauthBearer } from './oauthbearer-mechanism.js';
export { type OfferedParameters, offeredParameters, refuseUnofferedParameters } from './parameter-rules.js';
export {
  commitPhases,
  type ObservePhase,
  phaseHistogramOptions,
  phaseObserver,
  type SmtpPhase,
  timeSmtpHooks,
} from './phase-timing.js';
export { applyPolicyRules, type PolicyInput, type PolicyOutcome } from './policy-rules.js';
export {
  BareLineEndingError,
  type PreparedMessage,
  type PrepareOptions,
  prepareMessage,
} from './prepare-message.js';
export { createProxyListener } from './proxy-listener.js';
export { type ReceivedHeaderInput, receivedHeader } from './received-header.js';
export { type AcceptPath, openAcceptPath, openRecipientValidation } from './receiving-service.js';
export { cachedValidator, RecipientCache } from './recipient-cache.js';
export { type RecipientHookDeps, recipientHook } from './recipient-hook.js';
export { RecipientRoutes } from './recipient-routes.js';
export {
  libraryRefusalReason,
  type RecordRefusal,
  type RefusalReason,
  refusalRecorder,
} from './refusals.js';
export { authHiddenBeforeTls } from './refuse-auth-before-tls.js';
export { rfc5322Date } from './rfc5322-date.js';
export {
  answerRecipient,
  recipientRefusalReason,
  routingRecipientClient,
  type ValidateRecipient,
} from './routing-recipient-check.js';
export { sessionReceivedHeader } from './session-received.js';
export { SmtpReplyError, smtpError } from './smtp-reply.js';
