import type { CompiledScript } from './types.js';

export function serializeCompiled(script: CompiledScript): string {
  return JSON.stringify(script);
}

export function deserializeCompiled(text: string): CompiledScript {
  const value = JSON.parse(text) as CompiledScript;
  if (value?.format !== 'hermod-sieve/1') throw new Error('not a compiled Hermod Sieve script');
  return value;
}
