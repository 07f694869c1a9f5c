export { hashPassword, verifyPassword } from './password.js';
export { AccountStore, AccountError, type Account, type AccountErrorCode } from './account-store.js';
