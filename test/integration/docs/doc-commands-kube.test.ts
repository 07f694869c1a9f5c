// The docs' `sh runnable kube` blocks, run as written against a real kube-apiserver with the
// MailDomain CRD, namespace `mail`, and the operator running under its own ServiceAccount
// (test/integration/operator/operator-env.ts); kubectl and helm are the version-matched builds. Blocks run in a scratch copy of the repository's
// layout (so files they write stay out of the checkout), document by document; after each document
// the operator's own RBAC is re-applied and its MailDomains are deleted, so documents do not depend
// on each other.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureHelm, repositoryRoot } from '@hermod/local-infra';
import { parseAllDocuments } from 'yaml';
import { run, runnableBlocks, testWorkdir } from '../../harness/index.js';
import { type OperatorEnv, rbacDir, startOperatorEnv } from '../operator/operator-env.js';

let env: OperatorEnv;
let scratch = '';
let bin = '';

before(async () => {
  env = await startOperatorEnv();
  await env.startOperator({ env: { HERMOD_MX_HOSTS: 'mail.example.com' } });
  await env.cp.kubectlOk(['create', 'namespace', 'mail']);
  scratch = await testWorkdir('doc-kube');
  for (const entry of await readdir(repositoryRoot)) {
    if (entry.startsWith('.')) continue;
    await symlink(join(repositoryRoot, entry), join(scratch, entry));
  }
  bin = join(await testWorkdir('doc-kube-bin'), 'bin');
  await mkdir(bin);
  await symlink(env.cp.kubectlPath, join(bin, 'kubectl'));
  await symlink(await ensureHelm((line) => console.log(line)), join(bin, 'helm'));
});

after(async () => {
  await env?.stop();
});

test("every doc's `runnable kube` block runs as written against the API server", async () => {
  const blocks = await runnableBlocks('kube');
  const files = [...new Set(blocks.map((b) => b.file))];
  for (const expected of ['charts/hermod/README.md', 'docs/kubernetes.md', 'docs/operator.md'])
    assert.ok(files.includes(expected), `${expected} in ${files.join(', ')}`);
  for (const file of files) {
    for (const block of blocks.filter((b) => b.file === file)) {
      const result = await run('bash', ['-euo', 'pipefail', '-c', block.body], {
        cwd: scratch,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          KUBECONFIG: env.cp.kubeconfig,
          // helm keeps its repositories and cache apart from a developer's own.
          HELM_CACHE_HOME: join(scratch, '.helm-cache'),
          HELM_CONFIG_HOME: join(scratch, '.helm-config'),
          HELM_DATA_HOME: join(scratch, '.helm-data'),
        },
        timeoutMs: 180_000,
      });
      assert.equal(
        result.code,
        0,
        `${block.file}:${block.line}\n${block.body}\n${result.stdout}${result.stderr}`,
      );
    }
    // The next document starts from the operator's own identity and no MailDomains.
    await env.cp.kubectlOk(['apply', '-k', rbacDir]);
    await env.cp.kubectlOk(['delete', 'maildomains', '--all', '--all-namespaces', '--timeout=120s'], {
      timeoutMs: 150_000,
    });
  }
  // docs/operator.md's overlay put the operator's identity in a namespace of its own.
  const sa = await env.cp.getJson<{ metadata: { namespace: string } }>([
    'serviceaccount',
    'hermod-operator',
    '-n',
    'mail-operator',
  ]);
  assert.equal(sa.metadata.namespace, 'mail-operator');
});

test('the operator manifests name no namespace: the kustomization does', async () => {
  for (const file of (await readdir(rbacDir)).filter(
    (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
  )) {
    for (const doc of parseAllDocuments(await readFile(join(rbacDir, file), 'utf8'))) {
      const object = doc.toJS() as {
        kind: string;
        metadata: { namespace?: string };
        subjects?: Array<{ namespace?: string }>;
      };
      assert.equal(object.metadata.namespace, undefined, `${file}: metadata.namespace`);
      for (const subject of object.subjects ?? [])
        assert.equal(subject.namespace, undefined, `${file}: subject`);
    }
  }
  const built = await env.cp.kubectlOk(['kustomize', rbacDir]);
  const namespaced = parseAllDocuments(built)
    .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } })
    .filter((o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
  assert.ok(namespaced.length >= 3);
  for (const o of namespaced)
    assert.equal(o.metadata.namespace, 'hermod-system', `${o.kind} ${o.metadata.name}`);
});
