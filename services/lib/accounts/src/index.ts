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
export { LoginGate, type LoginOutcome } from './login-gate.js';
export {
  clientKey,
  type LoginFailureStore,
  LoginThrottle,
  type LoginThrottlePolicy,
  MemoryLoginFailureStore,
  PostgresLoginFailureStore,
} from './login-throttle.js';
export { type LoginThrottleSettings, loginThrottleEnv, loginThrottlePolicy } from './login-throttle-env.js';
export { hashPassword, verifyPassword } from './password.js';
