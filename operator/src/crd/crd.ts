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

/** The CustomResourceDefinition of MailDomain, built from the zod schema in api/v1alpha1. */
export function mailDomainCrd(): JsonObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'hermod' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: KIND.toLowerCase(),
        shortNames: ['mdom'],
        categories: ['hermod'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns.map((c) => ({ ...c })) as Json,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'MailDomain is a mail domain served by Hermod: how its mail is routed (local, remote, backup or auto), ' +
                'its DKIM keys, aliases, limits and TLS policy. The operator turns it into live configuration.',
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
                spec: openApi(MailDomainSpec),
                status: openApi(MailDomainStatus),
              },
            },
          },
        },
      ],
    },
  };
}
