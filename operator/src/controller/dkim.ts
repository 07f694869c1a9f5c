import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import type { MailDomainSpec } from '../api/v1alpha1/maildomain.js';
import { parseDuration } from './units.js';

const generate = promisify(generateKeyPair);

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export const KeyMeta = z.object({
  selector: z.string(),
  algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']),
  /** When it became active (active) or was published (pending). */
  since: z.string(),
});
export type KeyMeta = z.infer<typeof KeyMeta>;

/**
 * Kept in an annotation of the DKIM Secret: the Secret, not status, is the source of truth.
 * retiring: the selector signing stopped with, kept (key and DNS record in status) for
 * publishLeadTime after the switch, so mail signed just before verifies and nobody is told to
 * remove its record early.
 */
export const DkimState = z.object({
  active: KeyMeta.optional(),
  pending: KeyMeta.optional(),
  retiring: KeyMeta.optional(),
});
export type DkimState = z.infer<typeof DkimState>;

export interface GeneratedKey {
  privateKeyPem: string;
  /** The p= value for the DNS TXT record. */
  publicKey: string;
}

export const algorithmOf = (spec: MailDomainSpec['dkim']): DkimAlgorithm =>
  spec.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';

/** The public key as DKIM wants it in DNS: RFC 8463's bare 32-byte ed25519 key, else the SPKI. */
function dnsPublicValue(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // RFC 8463: p= is the bare 32-byte key, i.e. the SubjectPublicKeyInfo without its 12-byte header.
  return publicKey.asymmetricKeyType === 'ed25519'
    ? spki.subarray(spki.length - 32).toString('base64')
    : spki.toString('base64');
}

/** A new key pair: PKCS#8 PEM private key; public key as DKIM wants it in DNS (RFC 6376, RFC 8463). */
export async function generateDkimKey(algorithm: DkimAlgorithm): Promise<GeneratedKey> {
  const { privateKey, publicKey } =
    algorithm === 'ed25519-sha256'
      ? await generate('ed25519')
      : await generate('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicKey: dnsPublicValue(publicKey),
  };
}

/**
 * Why stored key material cannot sign for this selector, if it cannot: a private key that does
 * not parse, is of the other algorithm, or whose public half is not the DNS value stored beside it
 * (a Secret edited by hand, a bad restore). Such a key is treated as never made.
 */
export function keyMaterialProblem(key: GeneratedKey, algorithm: DkimAlgorithm): string | undefined {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.privateKeyPem);
  } catch (error) {
    return `the private key does not parse (${(error as Error).message})`;
  }
  const expected = algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  if (privateKey.asymmetricKeyType !== expected)
    return `the private key is ${privateKey.asymmetricKeyType}, not ${expected}`;
  if (dnsPublicValue(createPublicKey(privateKey)) !== key.publicKey)
    return "the public key stored beside it is not the private key's";
  return undefined;
}

export interface DkimPlan {
  state: DkimState;
  /** Keys the plan introduces (material to generate). */
  created: KeyMeta[];
  /** Selectors no longer in use (remove from the key bucket). */
  retired: string[];
  switched: boolean;
  /** The switch is due but the pending selector's record is not visible in DNS: signing holds. */
  held: boolean;
  /** When the plan changes next without any spec change (undefined while held: DNS decides). */
  nextTransitionAt?: Date | undefined;
}

/** What DNS says about the pending selector: undefined when verification is off. */
export interface DkimGate {
  pendingVisible?: boolean | undefined;
}

/**
 * The DKIM key lifecycle as a pure function of (state, spec, now, DNS): make the first key;
 * publish a new selector publishLeadTime before rotationPeriod runs out (or when the algorithm
 * changes); switch signing to it once it has been published for publishLeadTime and, when DNS
 * verification is on, its record is visible (else hold); keep the old selector as retiring for
 * another publishLeadTime, then retire it.
 */
export function planDkim(
  current: DkimState,
  spec: MailDomainSpec['dkim'],
  now: Date,
  newSelector: () => string,
  gate: DkimGate = {},
): DkimPlan {
  const want = algorithmOf(spec);
  const at = (iso: string) => new Date(iso).getTime();
  const stamp = (ms: number) => new Date(ms).toISOString();
  const lead = parseDuration(spec.publishLeadTime);
  const period = spec.rotationPeriod ? parseDuration(spec.rotationPeriod) : undefined;
  const created: KeyMeta[] = [];
  const retired: string[] = [];
  let { active, pending, retiring } = current;
  let switched = false;
  let held = false;
  if (!active && pending) {
    active = { ...pending, since: stamp(now.getTime()) };
    pending = undefined;
  }
  if (!active) {
    active = { selector: newSelector(), algorithm: want, since: stamp(now.getTime()) };
    created.push(active);
  }
  if (pending && pending.algorithm !== want) {
    retired.push(pending.selector);
    pending = undefined;
  }
  if (!pending) {
    const rotateAt = period !== undefined ? at(active.since) + period - lead : undefined;
    if (active.algorithm !== want || (rotateAt !== undefined && now.getTime() >= rotateAt)) {
      pending = { selector: newSelector(), algorithm: want, since: stamp(now.getTime()) };
      created.push(pending);
    }
  }
  if (pending && now.getTime() >= at(pending.since) + lead) {
    if (gate.pendingVisible === false) held = true;
    else {
      if (retiring) retired.push(retiring.selector);
      // Both count from the actual switch (later than due when it was held for DNS).
      retiring = { ...active, since: stamp(now.getTime()) };
      active = { ...pending, since: stamp(now.getTime()) };
      pending = undefined;
      switched = true;
    }
  }
  if (retiring && now.getTime() >= at(retiring.since) + lead) {
    retired.push(retiring.selector);
    retiring = undefined;
  }
  const candidates = [
    pending && !held ? at(pending.since) + lead : undefined,
    retiring ? at(retiring.since) + lead : undefined,
    !pending && period !== undefined ? Math.max(at(active.since) + period - lead, now.getTime()) : undefined,
  ].filter((t): t is number => t !== undefined);
  const nextTransitionAt = candidates.length > 0 ? new Date(Math.min(...candidates)) : undefined;
  return {
    state: { active, ...(pending ? { pending } : {}), ...(retiring ? { retiring } : {}) },
    created,
    retired,
    switched,
    held,
    nextTransitionAt,
  };
}

/** Selector names: <prefix>-<base36 milliseconds>, unique per rotation and valid as a DNS label. */
export function selectorFactory(prefix: string, clock: () => Date, taken: string[]): () => string {
  let bump = 0;
  return () => {
    for (;;) {
      const candidate = `${prefix}-${(clock().getTime() + bump).toString(36)}`;
      bump += 1;
      if (!taken.includes(candidate)) {
        taken.push(candidate);
        return candidate;
      }
    }
  };
}
