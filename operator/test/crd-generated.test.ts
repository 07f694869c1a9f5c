import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allCrds } from '../src/crd/crd.js';
import { staleFiles } from '../src/crd/generate.js';

test('the checked-in CRD YAML (and the chart copy) match the schema source', async () => {
  assert.deepEqual(await staleFiles(), [], 'run: node --import tsx operator/src/crd/generate.ts');
});

test('the CRD schemas are structural and RE2-safe: every field typed, described, no look-arounds', () => {
  const walk = (node: Record<string, unknown>, path: string): void => {
    if (path !== '.metadata') assert.ok(node.type, `${path} has a type`);
    const scalarItem = path.endsWith('[]') && node.type !== 'object';
    if ((path.includes('.spec.') || path.includes('.status.')) && !scalarItem)
      assert.ok(node.description, `${path} has a description (kubectl explain)`);
    if (typeof node.pattern === 'string')
      assert.doesNotMatch(node.pattern, /\(\?[=!<]/, `${path}: RE2 has no look-arounds`);
    const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
    for (const [name, child] of Object.entries(properties ?? {})) walk(child, `${path}.${name}`);
    if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
  };
  for (const { crd: raw } of allCrds()) {
    const crd = raw as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> };
    };
    walk(crd.spec.versions[0]?.schema.openAPIV3Schema ?? {}, '');
  }
});
