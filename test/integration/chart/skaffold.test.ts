// skaffold.yaml, checked without skaffold (its Go module is not on the module proxy): one module per
// deployable building from the one Dockerfile's stages, dev-profile patches that apply and sync files
// that exist to where the dev image keeps its sources, and a Helm deployment whose value overrides,
// values files and port-forwards match what the chart really renders.
import assert from 'node:assert/strict';
import { access, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { before, describe, test } from 'node:test';
import { repositoryRoot } from '@hermod/local-infra';
import { parseAllDocuments } from 'yaml';
import { type Deployable, deployables } from '../../../docker/deployables.js';
import { chartDir, renderChart } from './chart.js';
import { parseDockerfile } from './dockerfile-lint.js';

// biome-ignore lint/suspicious/noExplicitAny: skaffold configs are walked field by field
type Any = any;
interface Patch {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** RFC 6902 add/replace/remove, enough for skaffold profile patches; fails on a path that does not exist. */
function applyPatches(document: Any, patches: Patch[]): Any {
  const copy = structuredClone(document);
  for (const patch of patches) {
    const parts = patch.path.split('/').slice(1);
    const last = parts.pop() ?? '';
    let node = copy;
    for (const part of parts) {
      assert.ok(node !== undefined && part in node, `patch path ${patch.path} does not exist`);
      node = node[part];
    }
    if (patch.op === 'replace') assert.ok(last in node, `replace of missing ${patch.path}`);
    if (patch.op === 'remove') delete node[last];
    else node[last] = patch.value;
  }
  return copy;
}

/** A skaffold sync glob (`**` any depth, `*` within one segment) as a RegExp over repository paths. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (glob[i] === '*') re += '[^/]*';
    else if (glob[i] === '?') re += '[^/]';
    else re += (glob[i] ?? '').replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(repositoryRoot, full));
    }
  };
  await walk(dir);
  return out;
}

describe('skaffold.yaml', () => {
  let configs: Any[];
  let stages: Map<string, { workdir: string | undefined }>;
  let sources: string[];

  before(async () => {
    configs = parseAllDocuments(await readFile(join(repositoryRoot, 'skaffold.yaml'), 'utf8')).map((d) =>
      d.toJS(),
    );
    const dockerfile = parseDockerfile(await readFile(join(repositoryRoot, 'Dockerfile'), 'utf8'));
    stages = new Map(
      dockerfile.stages
        .filter((s) => s.name)
        .map((s) => [
          s.name ?? '',
          { workdir: s.instructions.findLast((i) => i.keyword === 'WORKDIR')?.args },
        ]),
    );
    sources = [
      ...(await listFiles(join(repositoryRoot, 'services'))),
      ...(await listFiles(join(repositoryRoot, 'operator'))),
    ];
  });

  test('every document is a skaffold v4beta13 Config with a unique module name', () => {
    const names = configs.map((c) => c.metadata?.name);
    for (const c of configs) {
      assert.equal(c.apiVersion, 'skaffold/v4beta13');
      assert.equal(c.kind, 'Config');
    }
    assert.equal(new Set(names).size, names.length, `duplicate module names: ${names.join(', ')}`);
  });

  for (const name of Object.keys(deployables) as Deployable[]) {
    test(`module ${name} builds its image from the Dockerfile and syncs its sources in the dev profile`, () => {
      const module = configs.find((c) => c.metadata?.name === name);
      assert.ok(module, `no skaffold module named ${name}`);
      const [artifact, ...others] = module.build.artifacts as Any[];
      assert.equal(others.length, 0);
      assert.equal(artifact.image, `hermod-${name}`);
      assert.equal(artifact.context ?? '.', '.');
      assert.equal(artifact.docker.dockerfile, 'Dockerfile');
      assert.ok(stages.has(artifact.docker.target), `Dockerfile has no stage ${artifact.docker.target}`);
      assert.equal(artifact.docker.target, 'runtime');

      const dev = (module.profiles as Any[]).find((p) => p.name === 'dev');
      const patched = applyPatches(module, dev.patches);
      const devArtifact = patched.build.artifacts[0];
      assert.ok(
        stages.has(devArtifact.docker.target),
        `Dockerfile has no stage ${devArtifact.docker.target}`,
      );
      const workdir = stages.get(devArtifact.docker.target)?.workdir;
      const rules = devArtifact.sync.manual as Array<{ src: string; dest: string }>;
      const entry = deployables[name];
      let coversEntry = false;
      for (const rule of rules) {
        assert.equal(rule.dest, workdir, 'synced files land where the dev image keeps the sources');
        const re = globToRegExp(rule.src);
        assert.ok(
          sources.some((f) => re.test(f)) || !sources.includes(entry),
          `sync rule ${rule.src} matches no file`,
        );
        if (re.test(entry)) coversEntry = true;
      }
      assert.ok(coversEntry, `no sync rule covers ${entry}`);
      assert.ok(
        rules.some((r) => globToRegExp(r.src).test('services/lib/db/src/migrate.ts')),
        'shared libraries are synced too',
      );
    });
  }

  test('the hermod module requires every image module and installs the chart with their images', async () => {
    const hermod = configs.find((c) => c.metadata?.name === 'hermod');
    assert.ok(hermod);
    const required = (hermod.requires as Any[]).flatMap((r) => r.configs);
    assert.deepEqual([...required].sort(), Object.keys(deployables).sort());
    const [release] = hermod.deploy.helm.releases as Any[];
    assert.equal(release.chartPath, 'charts/hermod');
    await access(join(repositoryRoot, release.chartPath, 'Chart.yaml'));
    for (const file of release.valuesFiles as string[]) await access(join(repositoryRoot, file));

    // Each template names the artifact of that component's module, the way skaffold spells it.
    const templates = release.setValueTemplates as Record<string, string>;
    const set: string[] = [];
    for (const name of Object.keys(deployables)) {
      const module = configs.find((c) => c.metadata?.name === name);
      const image = module.build.artifacts[0].image as string;
      const key = { 'outbound-mta': 'outboundMta' }[name] ?? name;
      const ident = image.replace(/[^A-Za-z0-9]/g, '_');
      assert.equal(
        templates[`${key}.image.repository`],
        `{{.IMAGE_REPO_${ident}}}`,
        `${key}.image.repository`,
      );
      assert.equal(templates[`${key}.image.tag`], `{{.IMAGE_TAG_${ident}}}`, `${key}.image.tag`);
      set.push(`${key}.image.repository=registry.test/${image}`, `${key}.image.tag=t1`);
    }
    const dev = applyPatches(hermod, (hermod.profiles as Any[]).find((p) => p.name === 'dev').patches);
    for (const [k, v] of Object.entries(dev.deploy.helm.releases[0].setValues as Record<string, unknown>))
      set.push(`${k}=${v}`);

    // What skaffold would install: every component runs its module's image; dev values are valid.
    const objects = await renderChart({
      release: release.name,
      namespace: release.namespace,
      valuesFiles: (release.valuesFiles as string[]).map((f) => join(repositoryRoot, f)),
      set,
    });
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const component = d.metadata.labels?.['app.kubernetes.io/component'];
      const c = d.spec.template.spec.containers[0];
      assert.equal(c.image, `registry.test/hermod-${component}:t1`);
      assert.equal(
        c.securityContext.readOnlyRootFilesystem,
        false,
        'dev profile: sync needs a writable root',
      );
    }

    // Port-forwards point at Services and ports the chart renders.
    const services = objects.filter((o) => o.kind === 'Service');
    for (const forward of hermod.portForward as Any[]) {
      const service = services.find((s) => s.metadata.name === forward.resourceName);
      assert.ok(service, `port-forward to missing Service ${forward.resourceName}`);
      assert.equal(forward.namespace, release.namespace);
      assert.ok(
        (service.spec.ports as Any[]).some((p) => p.port === forward.port),
        `${forward.resourceName}:${forward.port}`,
      );
    }
    assert.ok(chartDir.endsWith(release.chartPath));
  });
});
