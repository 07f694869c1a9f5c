/** `--name N` from the bench's command line, or the fallback. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** `--from-source` on a bench's command line: run Hermod's services through tsx instead of bundles. */
export const fromSource = (argv: string[] = process.argv): boolean => argv.includes('--from-source');
