import { appendCommand } from './append.js';
import { authenticateCommand } from './authenticate.js';
import { cancelUpdateCommand } from './cancelupdate.js';
import { capabilityCommand } from './capability.js';
import type { ImapCommand } from './command.js';
import { compressCommand } from './compress.js';
import { copyCommand, moveCommand, uidCopyCommand, uidMoveCommand } from './copy.js';
import { deleteAclCommand } from './deleteacl.js';
import { enableCommand } from './enable.js';
import { expungeCommand, uidExpungeCommand } from './expunge.js';
import { fetchCommand, uidFetchCommand } from './fetch.js';
import { getAclCommand } from './getacl.js';
import { getMetadataCommand } from './getmetadata.js';
import { idCommand } from './id.js';
import { idleCommand } from './idle.js';
import { listCommand, lsubCommand } from './list.js';
import { listRightsCommand } from './listrights.js';
import { loginCommand } from './login.js';
import { logoutCommand } from './logout.js';
import {
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
} from './mailbox-admin.js';
import { myRightsCommand } from './myrights.js';
import { namespaceCommand } from './namespace.js';
import { checkCommand, noopCommand } from './noop.js';
import { notifyCommand } from './notify.js';
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from './quota.js';
import { replaceCommand, uidReplaceCommand } from './replace.js';
import { searchCommand, uidSearchCommand } from './search.js';
import { closeCommand, examineCommand, selectCommand, unselectCommand } from './select.js';
import { setAclCommand } from './setacl.js';
import { setMetadataCommand } from './setmetadata.js';
import { sortCommand, uidSortCommand } from './sort.js';
import { starttlsCommand } from './starttls.js';
import { statusCommand } from './status.js';
import { storeCommand, uidStoreCommand } from './store.js';
import { threadCommand, uidThreadCommand } from './thread.js';

// Each command keeps its own argument type; the registry only needs the common shape.
const entry = <A>(command: ImapCommand<A>): [string, ImapCommand<unknown>] => [
  command.name,
  command as unknown as ImapCommand<unknown>,
];

/** Every command by name ('UID FETCH' for UID variants). */
export function createCommandRegistry(): ReadonlyMap<string, ImapCommand<unknown>> {
  const commands = [
    entry(capabilityCommand),
    entry(noopCommand),
    entry(checkCommand),
    entry(logoutCommand),
    entry(starttlsCommand),
    entry(loginCommand),
    entry(authenticateCommand),
    entry(idCommand),
    entry(enableCommand),
    entry(namespaceCommand),
    entry(listCommand),
    entry(lsubCommand),
    entry(statusCommand),
    entry(selectCommand),
    entry(examineCommand),
    entry(unselectCommand),
    entry(closeCommand),
    entry(createCommand),
    entry(deleteCommand),
    entry(renameCommand),
    entry(subscribeCommand),
    entry(unsubscribeCommand),
    entry(appendCommand),
    entry(expungeCommand),
    entry(uidExpungeCommand),
    entry(fetchCommand),
    entry(uidFetchCommand),
    entry(storeCommand),
    entry(uidStoreCommand),
    entry(copyCommand),
    entry(uidCopyCommand),
    entry(moveCommand),
    entry(uidMoveCommand),
    entry(idleCommand),
    entry(searchCommand),
    entry(compressCommand),
    entry(sortCommand),
    entry(uidSortCommand),
    entry(threadCommand),
    entry(uidThreadCommand),
    entry(getQuotaRootCommand),
    entry(getQuotaCommand),
    entry(setQuotaCommand),
    entry(uidSearchCommand),
    entry(replaceCommand),
    entry(uidReplaceCommand),
    entry(cancelUpdateCommand),
    entry(getMetadataCommand),
    entry(setMetadataCommand),
    entry(setAclCommand),
    entry(deleteAclCommand),
    entry(getAclCommand),
    entry(listRightsCommand),
    entry(myRightsCommand),
    entry(notifyCommand),
  ];
  return new Map(commands);
}
