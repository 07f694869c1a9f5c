/**
 * What of a message and its delivery a compiled script can read, found at compile time, so that a
 * delivery reads only that: most scripts test header fields and never look at the body, and the
 * default after-script reads nothing but the spam verdict. A bit set per input (SCRIPT_INPUTS).
 */
import type { Node } from './core.js';
import type { CompiledScript } from './types.js';

export const SCRIPT_INPUTS = {
  /** The header section (header, address, exists, date, duplicate, virustest, vacation, notify, reject). */
  header: 1,
  /** The whole message: body, MIME parts, editheader, redirect (which forwards it). */
  message: 2,
  /** The envelope (envelope test; vacation, reject, redirect and notify answer or forward to it). */
  envelope: 4,
  /** The account's mailboxes (fileinto, mailboxexists, mailboxidexists, specialuse_exists). */
  mailboxes: 8,
  /**
   * The spam verdict the host gives (SieveEnvironment.spamScore: spamtest, spamtestplus). A host
   * that takes it from a header field reads the header section for it only when it has no other
   * source (mda: the MX's verdict in the spool envelope, else the first X-Spam-Status field).
   */
  spam: 16,
} as const;

/** Every input: what a script of unknown needs (an older compiled form) is given. */
export const ALL_SCRIPT_INPUTS =
  SCRIPT_INPUTS.header |
  SCRIPT_INPUTS.message |
  SCRIPT_INPUTS.envelope |
  SCRIPT_INPUTS.mailboxes |
  SCRIPT_INPUTS.spam;

const { header, message, envelope, mailboxes, spam } = SCRIPT_INPUTS;

/**
 * By command or test name. A name not listed (ihave, whose block may use anything, or a test-only
 * command) counts as needing everything, so a new command reads too much rather than too little.
 * `size` reads nothing: the host gives the message's size (SieveMessage.size).
 */
const byName: Record<string, number> = {
  if: 0,
  elsif: 0,
  else: 0,
  stop: 0,
  keep: 0,
  discard: 0,
  true: 0,
  false: 0,
  not: 0,
  allof: 0,
  anyof: 0,
  size: 0,
  currentdate: 0,
  environment: 0,
  error: 0,
  setflag: 0,
  addflag: 0,
  removeflag: 0,
  hasflag: 0,
  include: 0,
  return: 0,
  global: 0,
  set: 0,
  string: 0,
  valid_notify_method: 0,
  notify_method_capability: 0,
  header,
  address: header,
  exists: header,
  date: header,
  duplicate: header,
  spamtest: spam,
  virustest: header,
  vacation: header | envelope,
  notify: header | envelope,
  reject: header | envelope,
  redirect: message | envelope,
  body: message,
  addheader: message,
  deleteheader: message,
  foreverypart: message,
  break: message,
  extracttext: message,
  envelope,
  fileinto: mailboxes,
  mailboxexists: mailboxes,
  mailboxidexists: mailboxes,
  specialuse_exists: mailboxes,
};

function nodeInputs(nodes: readonly Node[]): number {
  let inputs = 0;
  for (const node of nodes) {
    const own = byName[node.name];
    inputs |= own ?? ALL_SCRIPT_INPUTS;
    // :mime and :anychild (RFC 5703) look into the MIME parts.
    if (node.tags.mime !== undefined || node.tags.anychild !== undefined) inputs |= message;
    inputs |= nodeInputs(node.tests);
    if (node.block) inputs |= nodeInputs(node.block);
  }
  return inputs;
}

/** The inputs of a compiled script's tree and of every script it includes. */
export function scriptInputs(body: readonly Node[], includes: Record<string, { body: Node[] }>): number {
  let inputs = nodeInputs(body);
  for (const included of Object.values(includes)) inputs |= nodeInputs(included.body);
  return inputs;
}

/** A compiled script's inputs; everything for a form compiled before they were recorded. */
export const compiledInputs = (script: CompiledScript): number => script.inputs ?? ALL_SCRIPT_INPUTS;

/**
 * A compiled form with its inputs recorded (found from its tree, no recompile), inputs right after
 * format as the compiler writes them: for forms stored before inputs were recorded.
 */
export function withInputs(script: CompiledScript): CompiledScript {
  const { format, inputs: _old, ...rest } = script;
  return {
    format,
    inputs: scriptInputs(script.body as Node[], script.includes as Record<string, { body: Node[] }>),
    ...rest,
  };
}
