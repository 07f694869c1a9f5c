import { sealMessage } from 'mailauth/lib/arc/index.js';
import { headerBlock } from '../dsn/build-dsn.js';
import type { DkimSigningKey } from './dkim-sign.js';

/**
 * ARC (RFC 8617) for mail Hermod forwards (an alias or catch-all to an external address, with
 * SRS): the forwarding domain adds an ARC set so that the receiver can trust the authentication
 * results of our MX although SPF (new envelope sender) and perhaps DKIM no longer pass there.
 *
 * ARC-Authentication-Results carries the results our MX recorded: the first
 * Authentication-Results field of the message (mx removes forged ones of our authserv-id and puts
 * its own first). The chain validation (cv) is what our MX found for the ARC chain the message
 * arrived with (its `arc=` result): pass or fail; none when it had no chain (or no results were
 * recorded, as for mail submitted locally). mailauth builds the set and numbers the instance.
 */
export async function arcSeal(data: Buffer, key: DkimSigningKey, signTime?: Date): Promise<Buffer> {
  const headers = headerBlock(data)
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  const results = /^authentication-results:[ \t]*(.*)$/im.exec(headers)?.[1]?.trim();
  const arcResult = results ? /\barc=(\w+)/i.exec(results)?.[1]?.toLowerCase() : undefined;
  const cv = arcResult === 'pass' ? 'pass' : arcResult === 'fail' ? 'fail' : 'none';
  const set = await sealMessage(data, {
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: key.privateKeyPem,
    algorithm: key.algorithm,
    authResults: results ?? `${key.domain}; none`,
    cv,
    ...(signTime ? { signTime } : {}),
  });
  return Buffer.concat([set, data]);
}
