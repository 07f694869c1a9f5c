import type { TestControlPlane } from '../../harness/index.js';

// external-dns's DNSEndpoint CRD (sigs.k8s.io/external-dns, config/crd/standard/dnsendpoint.yaml), its schema trimmed to the fields used.
export const dnsEndpointCrd = JSON.stringify({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: 'dnsendpoints.externaldns.k8s.io',
    annotations: {
      'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/external-dns/pull/2007',
    },
  },
  spec: {
    group: 'externaldns.k8s.io',
    names: {
      kind: 'DNSEndpoint',
      listKind: 'DNSEndpointList',
      plural: 'dnsendpoints',
      singular: 'dnsendpoint',
    },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1alpha1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                properties: {
                  endpoints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        dnsName: { type: 'string' },
                        labels: { type: 'object', additionalProperties: { type: 'string' } },
                        providerSpecific: {
                          type: 'array',
                          items: {
                            type: 'object',
                            properties: { name: { type: 'string' }, value: { type: 'string' } },
                          },
                        },
                        recordTTL: { type: 'integer', format: 'int64' },
                        recordType: { type: 'string' },
                        setIdentifier: { type: 'string' },
                        targets: { type: 'array', items: { type: 'string' } },
                      },
                    },
                  },
                },
              },
              status: {
                type: 'object',
                properties: { observedGeneration: { type: 'integer', format: 'int64' } },
              },
            },
          },
        },
      },
    ],
  },
});

/** Installs the DNSEndpoint CRD and waits until the API server serves it. */
export async function installDnsEndpointCrd(cp: TestControlPlane): Promise<void> {
  await cp.kubectlOk(['apply', '-f', '-'], { input: dnsEndpointCrd });
  await cp.kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/dnsendpoints.externaldns.k8s.io',
  ]);
}
