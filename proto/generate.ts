// Generates the gRPC TypeScript code in services/lib/proto/src/gen from proto/ (buf + ts-proto).
// `--check` regenerates into a scratch folder and fails when the checked-in code is stale.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = fileURLToPath(new URL('.', import.meta.url));
const root = join(protoDir, '..');
const target = join(root, 'services/lib/proto/src/gen');
const check = process.argv.includes('--check');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full));
    }
  };
  try {
    walk(dir);
  } catch {
    // missing directory: no files
  }
  return out.sort();
}

const scratch = mkdtempSync(join(tmpdir(), 'hermod-proto-'));
try {
  // The plugin's `out` is relative to -o: generate into scratch, then compare or copy.
  execFileSync(
    join(root, 'node_modules/.bin/buf'),
    ['generate', '--template', 'buf.gen.yaml', '-o', scratch],
    {
      cwd: protoDir,
      stdio: 'inherit',
    },
  );
  const produced = join(scratch, 'services/lib/proto/src/gen');
  const fresh = listFiles(produced);
  if (check) {
    const current = listFiles(target);
    const stale =
      fresh.length !== current.length ||
      fresh.some(
        (f, i) => f !== current[i] || !readFileSync(join(produced, f)).equals(readFileSync(join(target, f))),
      );
    if (stale) {
      console.error(
        'generated gRPC code is stale: run `npm run generate` and commit services/lib/proto/src/gen',
      );
      process.exit(1);
    }
    console.log('generated gRPC code is up to date');
  } else {
    rmSync(target, { recursive: true, force: true });
    cpSync(produced, target, { recursive: true });
    console.log(`generated ${fresh.length} file(s) into ${relative(root, target)}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
