// Every command block of the docs is either run by a test or says why it cannot be: a new block
// cannot escape by being unmarked (docs/development.md, "Commands in the docs").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  documentationBlocks,
  documentationFiles,
  fencedBlocks,
  isShellBlock,
  shellBlockMark,
} from '@hermod/test/harness';

test('the block reader sees fences, languages and marks as written', () => {
  const blocks = fencedBlocks(
    'x.md',
    [
      '```sh runnable',
      'npx hermod domain list',
      '```',
      '  ```bash',
      '  echo unmarked',
      '  ```',
      '````text',
      '```sh runnable',
      '````',
      '```sh not-runnable: needs Docker',
      '```',
      '```console not-runnable:',
      '```',
      '```sh runnable kube',
      'kubectl get mdom',
      '```',
      '```',
      'no language',
      '```',
    ].join('\n'),
  );
  assert.deepEqual(
    blocks.map((b) => [b.line, b.info]),
    [
      [1, 'sh runnable'],
      [4, 'bash'],
      [7, 'text'],
      [10, 'sh not-runnable: needs Docker'],
      [12, 'console not-runnable:'],
      [14, 'sh runnable kube'],
      [17, ''],
    ],
  );
  assert.deepEqual(
    blocks.filter(isShellBlock).map((b) => shellBlockMark(b).kind),
    ['local', 'unmarked', 'not-runnable', 'unmarked', 'kube'],
  );
  assert.equal(blocks[0]?.body, 'npx hermod domain list');
});

test('every Markdown file is found, README first', async () => {
  const files = await documentationFiles();
  assert.equal(files[0], 'README.md');
  for (const expected of ['docs/kubernetes.md', 'docs/operator.md', 'charts/hermod/README.md'])
    assert.ok(files.includes(expected), expected);
  assert.ok(!files.some((f) => f.includes('node_modules')));
});

test('every fenced block names its language, and every shell block is marked', async () => {
  const blocks = await documentationBlocks();
  const problems: string[] = [];
  for (const block of blocks) {
    if (!block.info) {
      problems.push(`${block.file}:${block.line}: a fence without a language (text for a listing)`);
      continue;
    }
    if (!isShellBlock(block)) continue;
    const mark = shellBlockMark(block);
    if (mark.kind === 'unmarked') problems.push(`${block.file}:${block.line}: ${mark.problem}`);
  }
  assert.deepEqual(problems, []);
  const shell = blocks.filter(isShellBlock);
  const kinds = (kind: string) => shell.filter((b) => shellBlockMark(b).kind === kind).length;
  assert.ok(kinds('local') >= 2, 'blocks run against npm start');
  assert.ok(kinds('kube') >= 3, 'blocks run against the test API server');
});
