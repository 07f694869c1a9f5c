import { z } from 'zod';
import {
  GROUP,
  KIND,
  MailDomainSpec,
  MailDomainStatus,
  PLURAL,
  printerColumns,
  VERSION,
} from '../api/v1alpha1/maildomain.js';
import {
  GROUP_KIND,
  GROUP_PLURAL,
  groupPrinterColumns,
  MailGroupSpec,
  MailGroupStatus,
  MailUserSpec,
  MailUserStatus,
  USER_KIND,
  USER_PLURAL,
  userPrinterColumns,
} from '../api/v1alpha1/mailuser.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * zod's OpenAPI output, narrowed to what a structural CRD schema accepts: no $schema/id, no
 * open-ended safe-integer bounds (they only come from z.int()), additionalProperties only for maps.
 */
function structural(node: Json): Json {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'id') continue;
    if ((key === 'minimum' && value === -SAFE_INT) || (key === 'maximum' && value === SAFE_INT)) continue;
    if (key === 'additionalProperties' && value === false) continue;
    // Keys of `properties` are field names, not schema keywords: keep them all.
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, schema]) => [name, structural(schema)]),
      );
      continue;
    }
    out[key] = structural(value);
  }
  return out;
}

function openApi(schema: z.ZodType): JsonObject {
  return structural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Json) as JsonObject;
}

interface KindDefinition {
  kind: string;
  plural: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: ReadonlyArray<Record<string, unknown>>;
}

/** A namespaced CustomResourceDefinition with a status subresource, from a kind's zod schemas. */
function customResourceDefinition(d: KindDefinition): JsonObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${d.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'hermod' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: d.kind,
        listKind: `${d.kind}List`,
        plural: d.plural,
        singular: d.kind.toLowerCase(),
        shortNames: d.shortNames,
        categories: ['hermod'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: d.printerColumns.map((c) => ({ ...c })) as Json,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: d.description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion defines the versioned schema of this representation of an object.',
                },
                kind: {
                  type: 'string',
                  description:
                    'Kind is a string value representing the REST resource this object represents.',
                },
                metadata: { type: 'object' },
                spec: openApi(d.spec),
                status: openApi(d.status),
              },
            },
          },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition of MailDomain, built from the zod schema in api/v1alpha1. */
export function mailDomainCrd(): JsonObject {
  return customResourceDefinition({
    kind: KIND,
    plural: PLURAL,
    shortNames: ['mdom'],
    description:
      'MailDomain is a mail domain served by Hermod: how its mail is routed (local, remote, backup or auto), ' +
      'its DKIM keys, aliases, limits and TLS policy. The operator turns it into live configuration.',
    spec: MailDomainSpec,
    status: MailDomainStatus,
    printerColumns,
  });
}

export function mailUserCrd(): JsonObject {
  return customResourceDefinition({
    kind: USER_KIND,
    plural: USER_PLURAL,
    shortNames: ['muser'],
    description:
      'MailUser is a mail account: its address, password (from a Secret), quota, aliases, send-as addresses, ' +
      'forwarding and suspension. The operator keeps the accounts store in line with it.',
    spec: MailUserSpec,
    status: MailUserStatus,
    printerColumns: userPrinterColumns,
  });
}

export function mailGroupCrd(): JsonObject {
  return customResourceDefinition({
    kind: GROUP_KIND,
    plural: GROUP_PLURAL,
    shortNames: ['mgroup'],
    description:
      'MailGroup is a distribution list: mail to its address goes to every member, from the senders it allows.',
    spec: MailGroupSpec,
    status: MailGroupStatus,
    printerColumns: groupPrinterColumns,
  });
}

/** Every CRD of the operator, with the kind's plural (file names use it). */
export const allCrds = (): Array<{ plural: string; crd: JsonObject }> => [
  { plural: PLURAL, crd: mailDomainCrd() },
  { plural: USER_PLURAL, crd: mailUserCrd() },
  { plural: GROUP_PLURAL, crd: mailGroupCrd() },
];
