import type { CompileOptions, CompileResult } from './types.js';

export function compileSieve(_source: string, _options?: CompileOptions): CompileResult {
  return { ok: false, errors: [{ line: 0, column: 0, message: 'not implemented yet' }] };
}
