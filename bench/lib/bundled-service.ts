// How a bench runs Hermod's services: by default as the image does, each bundled by docker/bundle.ts
// (esbuild) and run with plain node; with --from-source from TypeScript through tsx, as `npm start`
// does. tsx's loader keeps every function's name with a defineProperty per closure, which costs CPU
// and memory per call (about 10% CPU and 2 KiB per IMAP session), so the bundle is what to compare.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repositoryRoot } from '@hermod/local-infra';
import { bundleEntry } from '../../docker/bundle.js';
import { type Deployable, deployables } from '../../docker/deployables.js';
import { fromSource } from './args.js';
import { profileDir } from './profile-option.js';

let tracingBundle: Promise<string> | undefined;

/** The tracing setup bundled once per bench run, loaded first by every service it starts. */
export function tracingPreload(): Promise<string> {
  const file = join(repositoryRoot, 'dist', 'bench-preload', 'telemetry-register.js');
  tracingBundle ??= bundleEntry(join(repositoryRoot, 'services/lib/telemetry/src/register.ts'), file).then(
    () => file,
  );
  return tracingBundle;
}

/**
 * Bundles one service to dist/bench/<name>.js (in the repository, git-ignored, so its packages
 * resolve from node_modules; bench/lib/process-cpu.ts knows the path) and returns node's arguments
 * to run it, with a V8 CPU profile into the --profile folder when one is given.
 */
export async function bundledCommand(name: Deployable, argv: string[] = process.argv): Promise<string[]> {
  const outfile = join(repositoryRoot, 'dist', 'bench', `${name}.js`);
  await bundleEntry(join(repositoryRoot, deployables[name]), outfile);
  // The image's launcher registers tracing before the service loads (docker/launcher.ts); so does the
  // bench, or its figures would leave out the context bookkeeping every deployed process pays.
  // Outside dist/bench/ so bench/lib/process-cpu.ts does not take the preload for the service's name.
  const tracing = await tracingPreload();
  const profile = profileDir(argv);
  if (profile) mkdirSync(profile, { recursive: true });
  return [
    '--enable-source-maps',
    ...['--import', pathToFileURL(tracing).href],
    ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-interval', '500'] : []),
    outfile,
  ];
}

/**
 * The node arguments of each named service for startHermod's `commands` (and NodeServiceProcess's
 * `command`): bundles, or nothing with --from-source (tsx and the TypeScript entry).
 */
export async function serviceCommands<Name extends Deployable>(
  names: readonly Name[],
  argv: string[] = process.argv,
): Promise<Partial<Record<Name, string[]>>> {
  const commands: Partial<Record<Name, string[]>> = {};
  if (fromSource(argv)) return commands;
  for (const name of names) commands[name] = await bundledCommand(name, argv);
  return commands;
}
