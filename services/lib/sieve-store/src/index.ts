// @hermod/sieve-store: the one owner of the Sieve tables (scripts, global scripts, tracking state).
export { DEFAULT_AFTER_SCRIPT, defaultAfterScript } from './default-scripts.js';
export { SieveScriptError, type SieveScriptErrorCode } from './errors.js';
export {
  activateScript,
  type DeliveryScript,
  type DeliveryScriptDigests,
  type DeliveryScripts,
  deleteScript,
  deliveryScriptDigestsSql,
  type GlobalPhase,
  type GlobalScript,
  getScript,
  globalScriptsOwner,
  listScripts,
  loadDeliveryScripts,
  ownedGlobalDomains,
  type Queryable,
  recordMissingScriptInputs,
  renameScript,
  replaceOwnedGlobalScripts,
  resolveDeliveryScripts,
  type ScriptSummary,
  type StoredScript,
  saveGlobalScript,
  saveScript,
} from './script-store.js';
export {
  checkScriptName,
  compileDomainScripts,
  type DomainScriptSet,
  defaultSieveLimits,
  domainScriptNames,
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
  recordDuplicatesOf,
  seenDuplicates,
} from './tracking.js';
