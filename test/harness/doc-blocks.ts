// The fenced blocks of the repository's Markdown, and how each shell block is marked. The convention
// (docs/development.md, "Commands in the docs"): every fence names a language; a shell block
// (sh, bash, shell, console, zsh) says on its fence line how it is checked:
//   ```sh runnable                 run by test/integration/platform/npm-start.test.ts against `npm start`
//   ```sh runnable kube            run by test/integration/docs/doc-commands-kube.test.ts against a
//                                  kube-apiserver with the CRD, namespace `mail` and the operator running
//   ```sh not-runnable: <reason>   cannot run here; the reason says why (Docker, a real cluster, ...)
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repositoryRoot } from '@hermod/local-infra';

export const SHELL_LANGUAGES = ['sh', 'bash', 'shell', 'console', 'zsh'] as const;

export interface FencedBlock {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Everything after the fence characters, trimmed. */
  info: string;
  body: string;
}

export type ShellBlockMark =
  | { kind: 'local' }
  | { kind: 'kube' }
  | { kind: 'not-runnable'; reason: string }
  | { kind: 'unmarked'; problem: string };

/** Every fenced block of a Markdown text, in order. A fence is ``` or ~~~ (3 or more) at any indent. */
export function fencedBlocks(file: string, markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = markdown.split('\n');
  let open: { fence: string; line: number; info: string; body: string[] } | undefined;
  lines.forEach((text, index) => {
    const fence = /^\s*(`{3,}|~{3,})(.*)$/.exec(text);
    if (!open) {
      if (fence)
        open = { fence: fence[1] ?? '```', line: index + 1, info: (fence[2] ?? '').trim(), body: [] };
      return;
    }
    const closing = fence?.[1];
    if (
      closing &&
      closing[0] === open.fence[0] &&
      closing.length >= open.fence.length &&
      !fence?.[2]?.trim()
    ) {
      blocks.push({ file, line: open.line, info: open.info, body: open.body.join('\n') });
      open = undefined;
      return;
    }
    open.body.push(text);
  });
  if (open) blocks.push({ file, line: open.line, info: open.info, body: open.body.join('\n') });
  return blocks;
}

export const isShellBlock = (block: FencedBlock): boolean =>
  (SHELL_LANGUAGES as readonly string[]).includes(block.info.split(/\s+/)[0] ?? '');

/** How a shell block's fence line marks it. */
export function shellBlockMark(block: FencedBlock): ShellBlockMark {
  const rest = block.info.replace(/^\S+\s*/, '');
  if (rest === 'runnable') return { kind: 'local' };
  if (rest === 'runnable kube') return { kind: 'kube' };
  const notRunnable = /^not-runnable:\s*(.*)$/.exec(rest);
  if (notRunnable) {
    const reason = (notRunnable[1] ?? '').trim();
    return reason.length >= 10
      ? { kind: 'not-runnable', reason }
      : { kind: 'unmarked', problem: 'not-runnable needs a reason (not-runnable: <why>)' };
  }
  return {
    kind: 'unmarked',
    problem: `mark it "runnable", "runnable kube" or "not-runnable: <why>" (found "${rest}")`,
  };
}

/** The Markdown files of the repository (README.md first, then the rest in path order). */
export async function documentationFiles(root = repositoryRoot): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (relative(root, full) === join('bench', 'results')) continue; // generated, not documentation
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.md')) out.push(relative(root, full));
    }
  };
  await walk(root);
  return out.sort((a, b) => (a === 'README.md' ? -1 : b === 'README.md' ? 1 : a.localeCompare(b)));
}

/** Every fenced block of every Markdown file of the repository. */
export async function documentationBlocks(root = repositoryRoot): Promise<FencedBlock[]> {
  const blocks: FencedBlock[] = [];
  for (const file of await documentationFiles(root))
    blocks.push(...fencedBlocks(file, await readFile(join(root, file), 'utf8')));
  return blocks;
}

/** The shell blocks marked with the given kind, in documentation order. */
export async function runnableBlocks(kind: 'local' | 'kube', root = repositoryRoot): Promise<FencedBlock[]> {
  return (await documentationBlocks(root)).filter((b) => isShellBlock(b) && shellBlockMark(b).kind === kind);
}
