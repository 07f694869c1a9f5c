// The image's entry point: `node dist/hermod.js <name>` loads dist/<name>.js, so one image serves every
// deployable and the container's args choose which (the Helm chart sets args: [<name>]). Run from source
// (`node --import tsx docker/launcher.ts <name>`, the image's dev target) it loads the TypeScript entry.
import { deployables, isDeployable } from './deployables.js';

const name = process.argv[2] ?? '';
if (!isDeployable(name)) {
  const unknown = name && name !== '--help' ? `  unknown deployable: ${JSON.stringify(name)}\n` : '';
  process.stderr.write(
    `usage: hermod <deployable>\n  where <deployable> is one of: ${Object.keys(deployables).join(', ')}\n${unknown}`,
  );
  process.exit(64);
}
// The service sees only its own arguments after the name.
process.argv.splice(2, 1);
// Tracing first, as `npm start` preloads it with --import: the image runs `node dist/hermod.js <name>`
// with no preload, so without this an OTLP endpoint set on the pod would export nothing.
process.env.OTEL_SERVICE_NAME ??= `hermod-${name}`;
await import('@hermod/telemetry/register');
const fromSource = import.meta.url.endsWith('.ts');
await import(new URL(fromSource ? `../${deployables[name]}` : `./${name}.js`, import.meta.url).href);
