import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('checked-in gRPC code matches proto/ (run `npm run generate` when this fails)', () => {
  const script = fileURLToPath(new URL('./generate.ts', import.meta.url));
  execFileSync(process.execPath, ['--import', 'tsx', script, '--check'], { stdio: 'pipe' });
});
