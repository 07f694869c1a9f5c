import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MissingPrerequisiteError } from './go-binaries.js';

const run = promisify(execFile);

/**
 * A self-signed certificate for local use and tests (created once per directory and name with
 * openssl), valid for hostname, altNames, localhost and 127.0.0.1; being self-signed it is its own
 * trust anchor.
 */
export async function ensureSelfSignedCertificate(
  directory: string,
  hostname = 'localhost',
  options: { name?: string; altNames?: string[] } = {},
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(directory, `${options.name ?? 'tls'}.crt`);
  const keyFile = join(directory, `${options.name ?? 'tls'}.key`);
  const dnsNames = [hostname, ...(options.altNames ?? []), 'localhost'];
  try {
    await access(certFile);
    await access(keyFile);
    return { certFile, keyFile };
  } catch {
    // create below
  }
  await mkdir(directory, { recursive: true });
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      `/CN=${hostname}`,
      '-addext',
      `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')},IP:127.0.0.1`,
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new MissingPrerequisiteError(
        'openssl',
        'install it (`apt-get install openssl`) or set TLS_CERT_FILE/TLS_KEY_FILE',
      );
    throw error;
  }
  return { certFile, keyFile };
}
