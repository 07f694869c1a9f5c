import { compileSieve, serializeCompiled } from '@hermod/sieve';

/**
 * The global after-script of every domain that has none of its own: what the receiving MX judged
 * spam (Rspamd's add-header/rewrite-subject) or DMARC quarantine (spamtest 10, see mda's
 * spamTestOf) goes to the \Junk mailbox (by special use, else by name; INBOX when there is
 * neither), unless a filter before it filed, redirected or discarded the message: an after-script
 * runs only while keep is in effect (docs/sieve-language.md, "Several scripts"). A domain replaces it with an after-script of its
 * own (CLI or MailDomain spec.sieve.after); an empty one disables it.
 */
export const DEFAULT_AFTER_SCRIPT = `# Hermod's default: mail the MX judged spam goes to Junk.
require ["fileinto", "special-use", "spamtest", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "10" {
  fileinto :specialuse "\\\\Junk" "Junk";
}
`;

let compiled: string | undefined;
/** DEFAULT_AFTER_SCRIPT compiled (once, on first use). */
export function defaultAfterScript(): string {
  if (compiled === undefined) {
    const result = compileSieve(DEFAULT_AFTER_SCRIPT);
    if (!result.ok)
      throw new Error(`the default after-script does not compile: ${result.errors[0]?.message}`);
    compiled = serializeCompiled(result.script);
  }
  return compiled;
}
