// The real CustomResourceDefinitions of cert-manager, the Prometheus Operator and KEDA (the optional
// APIs the all-features values use), taken from those projects' Go modules through the module proxy
// (`go mod download`, cached in GOMODCACHE), so the API server validates the chart's Certificate,
// ServiceMonitor and ScaledObject against the schemas a real cluster serves: a misspelt field is refused.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingPrerequisiteError } from '@hermod/local-infra';
import { run } from '@hermod/test/harness';
import { parse, stringify } from 'yaml';

/** Module, version and the CRD files inside it. Versions: releases current when the chart was written. */
export const thirdPartyCrdSources = [
  {
    module: 'github.com/cert-manager/cert-manager',
    version: 'v1.18.2',
    files: ['deploy/crds/crd-certificates.yaml'],
  },
  {
    module: 'github.com/prometheus-operator/prometheus-operator',
    version: 'v0.85.0',
    files: ['example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml'],
  },
  {
    module: 'github.com/kedacore/keda/v2',
    version: 'v2.17.2',
    files: ['config/crd/bases/keda.sh_scaledobjects.yaml'],
  },
] as const;

interface Crd {
  kind: string;
  metadata: { name: string; labels?: unknown; annotations?: unknown };
}

/** The CRDs as one multi-document YAML text for `kubectl apply -f -`. */
export async function thirdPartyCrdsYaml(): Promise<string> {
  const documents: string[] = [];
  for (const source of thirdPartyCrdSources) {
    const download = await run('go', ['mod', 'download', '-json', `${source.module}@${source.version}`], {
      env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off' },
      timeoutMs: 300_000,
    }).catch(() => undefined);
    if (!download)
      throw new MissingPrerequisiteError(
        `the Go toolchain (to fetch ${source.module} for its CRDs)`,
        'install Go 1.23+ (`apt-get install golang` or https://go.dev/doc/install)',
      );
    const info = JSON.parse(download.stdout || '{}') as { Dir?: string; Error?: string };
    if (download.code !== 0 || !info.Dir)
      throw new Error(`go mod download ${source.module}@${source.version}: ${info.Error ?? download.stderr}`);
    for (const file of source.files) {
      const crd = parse(await readFile(join(info.Dir, file), 'utf8')) as Crd;
      if (crd?.kind !== 'CustomResourceDefinition') throw new Error(`${file} is not a CRD`);
      // cert-manager ships its CRDs as Helm-chart files whose labels are template text: the schema is
      // what matters here, so labels and annotations are dropped.
      delete crd.metadata.labels;
      delete crd.metadata.annotations;
      documents.push(stringify(crd, { lineWidth: 0 }));
    }
  }
  return documents.join('---\n');
}
