import { type DefaultRuleOptions, type PolicyRule, parsePolicyRules } from './schema.js';
import { EXECUTABLE_EXTENSIONS, SCRIPT_EXTENSIONS } from './sniff.js';

/**
 * The rules hosting teams expect, evaluated after the global and domain rules (so an earlier
 * `accept` rule can make an exception). POLICY_DEFAULT_RULES=false turns them off;
 * POLICY_BLOCK_ENCRYPTED_ARCHIVES=false keeps password-protected archives (and Office documents).
 */
export function defaultRules(options: DefaultRuleOptions): PolicyRule[] {
  if (!options.enabled) return [];
  const dangerous = [...EXECUTABLE_EXTENSIONS, ...SCRIPT_EXTENSIONS].sort();
  return parsePolicyRules([
    {
      name: 'default-executables',
      direction: 'both',
      any: [{ attachment: { kind: ['executable', 'script'] } }, { attachment: { extension: dangerous } }],
      action: { reject: 'Executable and script attachments are not accepted here' },
    },
    {
      name: 'default-office-macros',
      direction: 'both',
      all: [{ attachment: { kind: ['office-macro'] } }],
      action: { reject: 'Office documents with macros are not accepted here' },
    },
    {
      name: 'default-double-extension',
      direction: 'both',
      all: [{ attachment: { doubleExtension: true } }],
      action: { reject: 'Attachments with a disguised (double) extension are not accepted here' },
    },
    ...(options.blockEncryptedArchives
      ? [
          {
            name: 'default-encrypted-archives',
            direction: 'inbound',
            all: [{ attachment: { encrypted: true } }],
            action: {
              reject: 'Password-protected archives and documents cannot be checked and are not accepted here',
            },
          },
        ]
      : []),
  ]);
}
