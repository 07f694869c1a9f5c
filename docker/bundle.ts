// Bundles every deployable (the six services and the operator) into one ESM file each, for the container
// image: `node dist/<name>.js`. Usage: node --import tsx docker/bundle.ts [--out DIR] [name...]
//
// Our own workspace packages (@hermod/*) are TypeScript source, so they are bundled in. Third-party
// packages stay external when they resolve to the root node_modules, which the image's runtime stage
// rebuilds with `npm ci --omit=dev` (same lockfile, same layout). A package that npm nested inside a
// workspace (e.g. operator/node_modules/...) would not be found from dist/, so it is bundled in instead.
//
// Files our sources find next to themselves with `new URL('<relative path>', import.meta.url)` (SQL
// migrations, rule tables) would be looked for next to the bundle instead: they are copied to
// dist/assets/<path in the repository> and the URL is rewritten to point there.
import { cp, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { type Deployable, deployables, isDeployable } from './deployables.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** dist/<launcherName>.js is the image's entry point; its argument picks the deployable. */
export const launcherName = 'hermod';

/** Folder under dist/ holding the files sources reach through `new URL(..., import.meta.url)`. */
export const assetsDirectory = 'assets';

// ESM output cannot call require() or read __dirname; CommonJS code bundled in (nested packages) may.
const banner = [
  "import { createRequire as __hermodCreateRequire } from 'node:module';",
  "import { fileURLToPath as __hermodFileURLToPath } from 'node:url';",
  "import { dirname as __hermodDirname } from 'node:path';",
  'const require = __hermodCreateRequire(import.meta.url);',
  'const __filename = __hermodFileURLToPath(import.meta.url);',
  'const __dirname = __hermodDirname(__filename);',
].join('\n');

function externalRootPackages(rootNodeModules: string): Plugin {
  return {
    name: 'external-root-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (
          args.pluginData === 'resolving' ||
          args.path.startsWith('@hermod/') ||
          args.path.startsWith('node:')
        ) {
          return undefined;
        }
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'resolving',
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external || resolved.path.startsWith(rootNodeModules + sep)) {
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}

const assetUrl = /new URL\((['"`])(\.{1,2}\/[^'"`$]*)\1,\s*import\.meta\.url\)/g;

/**
 * Rewrites `new URL('./x', import.meta.url)` in our TypeScript sources to a copy under dist/assets, and
 * records what to copy. A URL naming a folder that contains the source itself (e.g. the repository root
 * of a generator script) is left alone: it is not an asset.
 */
function relocateAssets(copies: Map<string, string>, inPlace: boolean): Plugin {
  return {
    name: 'relocate-assets',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const found: Array<{ match: string; rel: string; target: string }> = [];
        for (const m of source.matchAll(assetUrl)) {
          const rel = m[2] ?? '';
          const target = resolve(dirname(args.path), rel);
          const info = await stat(target).catch(() => undefined);
          // A folder holding the source itself (e.g. the repository root) is not an asset; a bundle
          // run in place may still point at it.
          if (!info || (!inPlace && info.isDirectory() && `${args.path}`.startsWith(target + sep))) continue;
          found.push({ match: m[0], rel, target });
        }
        if (found.length === 0) return undefined;
        let contents = source;
        for (const { match, rel, target } of found) {
          if (inPlace) {
            // A bundle run from this checkout reads the file where it is (always current).
            const url = pathToFileURL(target).href + (rel.endsWith('/') ? '/' : '');
            contents = contents.replace(match, `new URL(${JSON.stringify(url)})`);
            continue;
          }
          const inRepo = relative(root, target).split(sep).join('/');
          const copy = `${assetsDirectory}/${inRepo}${rel.endsWith('/') ? '/' : ''}`;
          copies.set(target, inRepo);
          contents = contents.replace(match, `new URL(${JSON.stringify(`./${copy}`)}, import.meta.url)`);
        }
        return { contents, loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

export interface BundleResult {
  outDir: string;
  files: Record<string, string>;
  /** Third-party packages each bundle loads at run time from node_modules. */
  externals: Record<string, string[]>;
  /** Files and folders copied to dist/assets, as paths in the repository. */
  assets: string[];
}

function externalsOf(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || imp.path.startsWith('node:') || builtinModules.includes(imp.path)) continue;
      const parts = imp.path.split('/');
      names.add(imp.path.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? imp.path));
    }
  }
  return [...names].sort();
}

/**
 * Bundles one entry point into one ESM file and copies the assets it reaches into <outfile dir>/assets
 * (or, with assetsInPlace, for a bundle that only runs from this checkout, points at them where they
 * are; with splitting, dynamic imports become chunks in the same folder); returns the third-party packages it loads at run time, the assets (paths in the repository)
 * and the source files that went in (absolute paths).
 */
export async function bundleEntry(
  entryPoint: string,
  outfile: string,
  options: { assetsInPlace?: boolean; splitting?: boolean } = {},
): Promise<{ externals: string[]; assets: string[]; inputs: string[] }> {
  const copies = new Map<string, string>();
  const built = await build({
    absWorkingDir: root,
    entryPoints: [entryPoint],
    // Split: what the entry imports dynamically becomes chunks beside it, loaded (with the packages
    // they import) only when reached.
    ...(options.splitting
      ? { outdir: dirname(outfile), entryNames: basename(outfile, '.js'), splitting: true }
      : { outfile }),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    banner: { js: banner },
    plugins: [
      externalRootPackages(join(root, 'node_modules')),
      relocateAssets(copies, options.assetsInPlace ?? false),
    ],
  });
  for (const [target, inRepo] of copies) {
    await cp(target, join(dirname(outfile), assetsDirectory, inRepo), { recursive: true });
  }
  return {
    externals: externalsOf(built.metafile),
    assets: [...copies.values()].sort(),
    inputs: Object.keys(built.metafile.inputs).map((input) => resolve(root, input)),
  };
}

/**
 * Bundles the named deployables (all by default) into outDir/dist/<name>.js, plus the launcher, with
 * their assets in outDir/dist/assets.
 */
export async function bundleDeployables(
  outDir: string,
  names: readonly Deployable[] = Object.keys(deployables) as Deployable[],
): Promise<BundleResult> {
  const distDir = join(outDir, 'dist');
  await rm(distDir, { recursive: true, force: true });
  await mkdir(distDir, { recursive: true });
  const result: BundleResult = { outDir, files: {}, externals: {}, assets: [] };
  const assets = new Set<string>();
  for (const name of names) {
    const outfile = join(distDir, `${name}.js`);
    const bundled = await bundleEntry(join(root, deployables[name]), outfile);
    result.files[name] = outfile;
    result.externals[name] = bundled.externals;
    for (const a of bundled.assets) assets.add(a);
  }
  await bundleEntry(join(root, 'docker/launcher.ts'), join(distDir, `${launcherName}.js`));
  result.assets = [...assets].sort();
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const outDir = outIndex >= 0 ? (args[outIndex + 1] ?? '.') : root;
  const named = outIndex < 0 ? args : args.filter((_, i) => i !== outIndex && i !== outIndex + 1);
  const unknown = named.filter((n) => !isDeployable(n));
  if (unknown.length > 0) throw new Error(`unknown deployable(s): ${unknown.join(', ')}`);
  const result = await bundleDeployables(outDir, named.length > 0 ? (named as Deployable[]) : undefined);
  for (const [name, file] of Object.entries(result.files)) {
    console.log(
      `${name}: ${relative(process.cwd(), file)} (external: ${result.externals[name]?.join(' ') || 'none'})`,
    );
  }
  console.log(`assets: ${result.assets.join(' ') || 'none'}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
