// @hermod/sieve-store: the one owner of the Sieve tables (scripts, global scripts, tracking state).
export { SieveScriptError, type SieveScriptErrorCode } from './errors.js';
export {
  activateScript,
  type DeliveryScripts,
  deleteScript,
  type GlobalPhase,
  type GlobalScript,
  getScript,
  listScripts,
  loadDeliveryScripts,
  type Queryable,
  renameScript,
  type ScriptSummary,
  type StoredScript,
  saveGlobalScript,
  saveScript,
} from './script-store.js';
export {
  checkScriptName,
  defaultSieveLimits,
  formatErrors,
  type ScriptOwner,
  type SieveLimits,
  SieveScripts,
} from './scripts.js';
export {
  claimVacationResponse,
  countAutoReply,
  pruneTracking,
  recordDuplicates,
  seenDuplicates,
} from './tracking.js';
