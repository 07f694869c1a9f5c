import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test("docs/configuration.md matches the services' config schemas (run `npm run generate` when this fails)", () => {
  const script = fileURLToPath(new URL('../scripts/generate-reference.ts', import.meta.url));
  execFileSync(process.execPath, ['--import', 'tsx', script, '--check'], { stdio: 'pipe' });
});
