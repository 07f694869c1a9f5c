import type { JetStreamClient, KV } from 'nats';
import { z } from 'zod';
import { domainNamePattern } from './schema.js';

/**
 * DKIM signing keys, one KV entry per (domain, selector), key `<domain>.<selector>`. Written by the
 * operator (from the MailDomain's Secret) and read by outbound-mta through DomainConfig.dkim.keyRef.
 * Kept apart from hermod-domains so that watching domain config never hands out private keys.
 */
export const DKIM_KEY_BUCKET = 'hermod-dkim-keys';

export const dkimSelectorPattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const DkimKey = z.object({
  domain: z.string().regex(domainNamePattern),
  selector: z.string().regex(dkimSelectorPattern),
  algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']),
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), usable with node:crypto createPrivateKey. */
  privateKeyPem: z.string().min(1),
  /** The p= value of the DNS TXT record (base64 SubjectPublicKeyInfo for RSA, raw 32-byte key for Ed25519). */
  publicKey: z.string().min(1),
  createdAt: z.string(),
});
export type DkimKey = z.infer<typeof DkimKey>;

/** The KV key of a domain's selector; also the value of DomainConfig.dkim.keyRef. */
export const dkimKeyRef = (domain: string, selector: string): string => `${domain.toLowerCase()}.${selector}`;

export async function openDkimKeyBucket(js: JetStreamClient, replicas = 1): Promise<KV> {
  // history 1: a replaced or deleted private key should not linger in the bucket.
  return js.views.kv(DKIM_KEY_BUCKET, { history: 1, replicas });
}

export async function writeDkimKey(kv: KV, key: DkimKey): Promise<void> {
  const valid = DkimKey.parse(key);
  await kv.put(dkimKeyRef(valid.domain, valid.selector), JSON.stringify(valid));
}

/** The key a DomainConfig.dkim.keyRef names, or undefined when absent (deleted or not yet written). */
export async function readDkimKey(kv: KV, keyRef: string): Promise<DkimKey | undefined> {
  const entry = await kv.get(keyRef);
  if (entry?.operation !== 'PUT') return undefined;
  return DkimKey.parse(entry.json());
}

export async function deleteDkimKey(kv: KV, keyRef: string): Promise<void> {
  await kv.delete(keyRef);
}

/** Every stored selector of one domain (key refs), e.g. to remove retired ones. */
export async function listDkimKeyRefs(kv: KV, domain: string): Promise<string[]> {
  // Exactly one token after the domain (selectors have no dots): example.com.* must not match
  // the keys of example.com.au. All keys first: a get awaited inside the keys iterator ends it.
  const keys: string[] = [];
  for await (const key of await kv.keys(`${domain.toLowerCase()}.*`)) keys.push(key);
  const out: string[] = [];
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT') out.push(key);
  }
  return out.sort();
}
