#!/usr/bin/env node
// The `hermod` command. Transpiling the TypeScript sources at every start cost most of a second, so
// it runs one ESM bundle of them instead, built with esbuild (docker/bundle.ts) on first use and
// again whenever a file it was built from changes; kept in node_modules/.cache/hermod-cli. Where
// esbuild is not installed (or the build fails) it runs the sources through tsx as before.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = join(root, 'services/cli/src/main.ts');
const cacheDir = join(root, 'node_modules/.cache/hermod-cli');
const manifestFile = join(cacheDir, 'current.json');
// A build another hermod process may still be running from is left alone this long.
const keepOldBuildsMs = 10 * 60_000;

/** The bundle, when one exists that is newer than every file that went into it. */
function currentBundle() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    for (const input of manifest.inputs) if (statSync(input).mtimeMs > manifest.builtAt) return undefined;
    statSync(manifest.bundle);
    return manifest.bundle;
  } catch {
    return undefined;
  }
}

async function buildBundle() {
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  try {
    const { bundleEntry } = await import('../../../docker/bundle.ts');
    const builtAt = Date.now();
    const id = `${builtAt}-${process.pid}`;
    const bundle = join(cacheDir, id, 'hermod.js');
    const { inputs } = await bundleEntry(entry, bundle, { assetsInPlace: true, splitting: true });
    // Written aside and renamed: a concurrent hermod sees the old manifest or the new, never half.
    const partial = `${manifestFile}.${process.pid}`;
    writeFileSync(partial, JSON.stringify({ builtAt, bundle, inputs }));
    renameSync(partial, manifestFile);
    for (const name of readdirSync(cacheDir)) {
      const at = Number(name.split('-')[0]);
      if (name !== id && Number.isFinite(at) && at < builtAt - keepOldBuildsMs)
        rmSync(join(cacheDir, name), { recursive: true, force: true });
    }
    return bundle;
  } finally {
    await unregister();
  }
}

async function bundled() {
  const ready = currentBundle();
  if (ready) return ready;
  try {
    await import('esbuild');
  } catch {
    return undefined; // installed without dev dependencies: run the sources
  }
  try {
    mkdirSync(cacheDir, { recursive: true });
    return await buildBundle();
  } catch (error) {
    process.stderr.write(`hermod: could not bundle the CLI (${error.message}); running the sources\n`);
    return undefined;
  }
}

const bundle = await bundled();
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
