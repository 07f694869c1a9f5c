/**
 * Deployable name -> entry point. The name is the image's argument (`hermod-image <name>`), the
 * bundle's file name (dist/<name>.js) and, in camelCase, the Helm chart's values key.
 */
export const deployables = {
  msa: 'services/msa/src/main.ts',
  mx: 'services/mx/src/main.ts',
  routing: 'services/routing/src/main.ts',
  'outbound-mta': 'services/outbound-mta/src/main.ts',
  mda: 'services/mda/src/main.ts',
  imap: 'services/imap/src/main.ts',
  operator: 'operator/src/main.ts',
} as const;
export type Deployable = keyof typeof deployables;

export function isDeployable(name: string): name is Deployable {
  return Object.hasOwn(deployables, name);
}
