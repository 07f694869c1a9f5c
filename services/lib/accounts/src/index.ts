export { type Account, AccountError, type AccountErrorCode, AccountStore } from './account-store.js';
export { hashPassword, verifyPassword } from './password.js';
