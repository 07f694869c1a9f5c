import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKubeCredentials } from '../src/kube/kube-credentials.js';

const kubeconfig = (user: string) => `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
- name: other
  context: {cluster: nope, user: nope}
clusters:
- name: k
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.crt
users:
- name: u
  user: ${user}
`;

test('kubeconfig: server, CA relative to the file, and a token file read per request', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecreds-'));
  try {
    await writeFile(join(dir, 'ca.crt'), 'CA PEM');
    await writeFile(join(dir, 'token'), 'first\n');
    await writeFile(join(dir, 'config'), kubeconfig('{tokenFile: token}'));
    const creds = await loadKubeCredentials(join(dir, 'config'));
    assert.equal(creds.server, 'https://127.0.0.1:6443');
    assert.equal(String(creds.tls.ca), 'CA PEM');
    assert.deepEqual(await creds.headers(), { authorization: 'Bearer first' });
    await writeFile(join(dir, 'token'), 'rotated\n');
    assert.deepEqual(await creds.headers(), { authorization: 'Bearer rotated' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: client certificate data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecreds-'));
  try {
    await writeFile(join(dir, 'ca.crt'), 'CA PEM');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(
      join(dir, 'config'),
      kubeconfig(`{client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}`),
    );
    const creds = await loadKubeCredentials(join(dir, 'config'));
    assert.equal(String(creds.tls.cert), 'CERT');
    assert.equal(String(creds.tls.key), 'KEY');
    assert.deepEqual(await creds.headers(), {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
