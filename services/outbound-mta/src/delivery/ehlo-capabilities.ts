import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { LocalError } from './errors.js';

/** What the remote announced in its (last) EHLO reply, as nodemailer understood it. */
export interface EhloCapabilities {
  /** Upper-case keywords among SMTPUTF8, DSN, 8BITMIME, REQUIRETLS, PIPELINING, SIZE. */
  extensions: string[];
  /** The SIZE limit, 0 when none was declared. */
  maxSize: number;
}

/** The nodemailer version this reader was checked against (package.json pins it exactly). */
export const CHECKED_NODEMAILER_VERSION = '10.6.0';

/**
 * The one place that reads nodemailer's private EHLO results. nodemailer parses the EHLO reply
 * into `_supportedExtensions` and `_maxAllowedSize` and offers no public getter for them (only a
 * custom AUTH handler sees them, and we do not authenticate to remote MXes). The fields are
 * checked here: if an upgrade renames or retypes them this throws a LocalError (the delivery is
 * held, loudly) instead of silently reading "no extensions" and bouncing every 8-bit message;
 * test/ehlo-capabilities.test.ts fails first, against a real server, and on any version change.
 */
export function ehloCapabilities(connection: SMTPConnection): EhloCapabilities {
  const internals = connection as unknown as Record<string, unknown>;
  const extensions = internals._supportedExtensions;
  const maxSize = internals._maxAllowedSize;
  if (!Array.isArray(extensions) || !extensions.every((e) => typeof e === 'string'))
    throw new LocalError('nodemailer no longer exposes _supportedExtensions as a string array');
  if (typeof maxSize !== 'number')
    throw new LocalError('nodemailer no longer exposes _maxAllowedSize as a number');
  return { extensions: extensions.map((e: string) => e.toUpperCase()), maxSize };
}
