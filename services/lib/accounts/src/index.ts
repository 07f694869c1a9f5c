export {
  type Account,
  AccountError,
  type AccountErrorCode,
  AccountStore,
  type LoginCandidate,
} from './account-store.js';
export {
  type AppPasswordInfo,
  isLoginScope,
  type LoginScope,
  loginScopes,
} from './app-passwords.js';
export { LoginGate, type LoginOutcome, type TokenLoginOutcome } from './login-gate.js';
export {
  clientKey,
  type LoginFailureStore,
  LoginThrottle,
  type LoginThrottlePolicy,
  MemoryLoginFailureStore,
  PostgresLoginFailureStore,
} from './login-throttle.js';
export { type LoginThrottleSettings, loginThrottleEnv, loginThrottlePolicy } from './login-throttle-env.js';
export {
  type DeletionPolicy,
  groupAcceptsSender,
  type MailGroup,
  type MailGroupInput,
  type ManagedAccountInput,
  type ManagedAccountResult,
  type SenderPolicy,
  senderPolicies,
} from './managed.js';
export {
  type BearerCredentials,
  decodeBearerResponse,
  type OidcSettings,
  OidcTokenVerifier,
  oidcEnv,
  oidcVerifier,
  type TokenCheck,
  type TokenVerifier,
} from './oidc.js';
export { checkPasswordStrength, hashPassword, isArgon2Hash, verifyPassword } from './password.js';
export {
  accountLimitOverrides,
  domainLimitOverrides,
  recordLimitHit,
  resumeSending,
  type SendingPolicy,
  type SendingSuspension,
  type StoredLimitOverrides,
  type SubmissionLimitOverrides,
  type SubmissionLimitValues,
  type SuspendOutcome,
  sendingPolicy,
  setAccountLimitOverrides,
  setDomainLimitOverrides,
  suspendSending,
} from './sending-policy.js';
