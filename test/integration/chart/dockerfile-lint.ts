// A small Dockerfile parser and the hadolint-style rules the Hermod image must keep. No Docker engine runs
// in CI, so the Dockerfile is checked statically: every rule names what is wrong and on which line.

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Flags given before the arguments, e.g. --from=build, --chown=root:root. */
  flags: Map<string, string>;
  /** Arguments after the flags, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
  /** Comment lines directly above the instruction. */
  comments: string[];
}

export interface Stage {
  /** Image or earlier stage the stage starts from. */
  base: string;
  name: string | undefined;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  instructions: Instruction[];
  stages: Stage[];
}

/** Splits a Dockerfile into instructions: comments kept, `\` continuations joined, flags separated. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    if (trimmed === '') {
      comments = [];
      continue;
    }
    if (trimmed.startsWith('#')) {
      comments.push(trimmed.replace(/^#\s?/, ''));
      continue;
    }
    const start = i + 1;
    let body = trimmed;
    while (body.endsWith('\\') && i + 1 < lines.length) {
      body = body.slice(0, -1).trimEnd();
      i++;
      const next = (lines[i] ?? '').trim();
      // Comment lines inside a continued instruction are dropped by Docker too.
      if (next.startsWith('#')) continue;
      body = `${body} ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/.exec(body);
    if (!match) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    let rest = match[2] ?? '';
    const flags = new Map<string, string>();
    for (;;) {
      const flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
      if (!flag) break;
      flags.set(flag[1] ?? '', flag[2] ?? '');
      rest = rest.slice(flag[0].length);
    }
    instructions.push({ keyword, flags, args: rest.trim(), line: start, comments });
    comments = [];
  }
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base = '', as, name] = instruction.args.split(/\s+/);
      stages.push({
        base,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        index: stages.length,
        instructions: [instruction],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { instructions, stages };
}

/** Parses the JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface Problem {
  rule: string;
  line: number;
  message: string;
}

const secretName = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)/i;
const secretFile = /(^|\/)(\.env(\..*)?|id_rsa|id_ed25519|.*\.pem|.*\.key|\.npmrc|kubeconfig)$/;

/**
 * The rules, in the spirit of hadolint (DL3006/DL3007 pinned base images, DL3020 no ADD, DL3002 non-root
 * USER, DL3003 WORKDIR not cd, DL3025 JSON CMD/ENTRYPOINT, DL3016 pinned npm packages) plus this project's:
 * multi-stage, `npm ci` with the lockfile, production-only dependencies in the runtime, --chown on the
 * runtime's COPYs, a HEALTHCHECK (or a documented reason for none), and no secrets in the image.
 */
export function lintDockerfile(text: string): Problem[] {
  const { instructions, stages } = parseDockerfile(text);
  const problems: Problem[] = [];
  const report = (rule: string, line: number, message: string) => problems.push({ rule, line, message });
  const stageNames = new Set<string>();
  const final = stages.at(-1);

  if (stages.length < 2)
    report('multi-stage', 1, 'the image must be built in stages (build tools stay out of the runtime)');

  for (const stage of stages) {
    const from = stage.instructions[0];
    const line = from?.line ?? 1;
    if (!stageNames.has(stage.base)) {
      const digest = stage.base.includes('@sha256:');
      const tag = /^[^@]+:([^/:@]+)$/.exec(stage.base.split('@')[0] ?? '')?.[1];
      if (stage.base.includes('$'))
        report('pinned-base', line, `base image ${stage.base} is not a literal reference`);
      else if (!digest && !tag) report('pinned-base', line, `base image ${stage.base} has no tag (DL3006)`);
      else if (!digest && tag === 'latest')
        report('pinned-base', line, `base image ${stage.base} uses latest (DL3007)`);
      else if (!digest && tag && !/\d+\.\d+\.\d+/.test(tag))
        report('pinned-base', line, `base image ${stage.base} is not pinned to a full version (x.y.z)`);
    }
    if (stage.name) stageNames.add(stage.name);
  }

  for (const ins of instructions) {
    if (ins.keyword === 'ADD') {
      report(
        /https?:\/\//.test(ins.args) ? 'no-add-url' : 'no-add',
        ins.line,
        'use COPY (or a RUN download with a checksum), not ADD (DL3020)',
      );
    }
    if (ins.keyword === 'WORKDIR' && !ins.args.startsWith('/')) {
      report('workdir-absolute', ins.line, `WORKDIR ${ins.args} is relative (DL3000)`);
    }
    if (ins.keyword === 'RUN') {
      if (/(^|&&|;|\|\|)\s*cd\s/.test(ins.args))
        report('no-cd', ins.line, 'use WORKDIR instead of cd (DL3003)');
      if (/\bsudo\b/.test(ins.args)) report('no-sudo', ins.line, 'sudo in RUN (DL3004)');
      if (/apt-get install/.test(ins.args) && !/--no-install-recommends/.test(ins.args))
        report('apt-no-recommends', ins.line, 'apt-get install without --no-install-recommends (DL3015)');
      if (/\bnpm (install|i)\b/.test(ins.args)) {
        const globalPinned = /npm (install|i) (--global|-g) [@a-z0-9/._-]+@\d+\.\d+\.\d+/.test(ins.args);
        if (!globalPinned)
          report(
            'npm-ci',
            ins.line,
            'install dependencies with `npm ci` from the lockfile, not `npm install`',
          );
      }
      if (/\bcurl\b.*\|\s*(ba)?sh/.test(ins.args))
        report('no-curl-pipe', ins.line, 'piping a download into a shell');
    }
    if ((ins.keyword === 'ENV' || ins.keyword === 'ARG') && secretName.test(ins.args)) {
      report('no-secrets', ins.line, `${ins.keyword} looks like it carries a secret: ${ins.args}`);
    }
    if (
      (ins.keyword === 'COPY' || ins.keyword === 'ADD') &&
      ins.args.split(/\s+/).some((p) => secretFile.test(p))
    ) {
      report('no-secrets', ins.line, `copies a secret-looking file: ${ins.args}`);
    }
    if ((ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && !execForm(ins.args)) {
      report(
        'json-exec-form',
        ins.line,
        `${ins.keyword} must use the JSON form so signals reach node (DL3025)`,
      );
    }
  }

  // npm ci must see the lockfile: some COPY before it in the same stage brings package-lock.json in
  // (directly or a whole folder of manifests from another stage).
  for (const stage of stages) {
    let lockfileCopied = false;
    for (const ins of stage.instructions) {
      if (
        ins.keyword === 'COPY' &&
        (/package-lock\.json/.test(ins.args) || ins.flags.has('from') || /^\.\s/.test(ins.args))
      )
        lockfileCopied = true;
      if (ins.keyword === 'RUN' && /\bnpm ci\b/.test(ins.args) && !lockfileCopied)
        report('npm-ci-lockfile', ins.line, 'npm ci runs before package-lock.json is copied into the stage');
    }
  }
  if (!instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)))
    report('npm-ci', 1, 'dependencies are never installed with `npm ci`');

  if (final) {
    const last = final.instructions[0]?.line ?? 1;
    // node_modules of the runtime must come from a stage that installed production dependencies only.
    for (const ins of final.instructions) {
      if (ins.keyword !== 'COPY') continue;
      if (!ins.flags.has('chown'))
        report(
          'copy-chown',
          ins.line,
          'COPY into the runtime stage without --chown (ownership must be explicit)',
        );
      const from = ins.flags.get('from');
      if (from && /node_modules/.test(ins.args)) {
        const source = stages.find((s) => s.name === from);
        const prodOnly = source?.instructions.some(
          (i) =>
            i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && /--omit[= ]dev|--production/.test(i.args),
        );
        if (!prodOnly)
          report(
            'production-deps',
            ins.line,
            `node_modules come from stage ${from}, which does not run npm ci --omit=dev`,
          );
      }
    }
    const users = final.instructions.filter((i) => i.keyword === 'USER');
    const user = users.at(-1);
    if (!user) report('non-root', last, 'the runtime stage never sets USER (DL3002)');
    else {
      const [name = '', group] = user.args.split(':');
      if (name === 'root' || name === '0' || group === '0' || group === 'root')
        report('non-root', user.line, `USER ${user.args} is root (DL3002)`);
      else if (!/^\d+$/.test(name))
        report(
          'non-root',
          user.line,
          `USER ${user.args} is not numeric: Kubernetes runAsNonRoot cannot verify a name`,
        );
    }
    const health = final.instructions.find((i) => i.keyword === 'HEALTHCHECK');
    const documentedNone = final.instructions.some((i) =>
      i.comments.some((c) => /no HEALTHCHECK because/i.test(c)),
    );
    if (!health && !documentedNone)
      report('healthcheck', last, 'no HEALTHCHECK and no comment saying why (no HEALTHCHECK because ...)');
    if (health && !/^NONE$/i.test(health.args) && !execForm(health.args.replace(/^CMD\s+/i, '')))
      report('json-exec-form', health.line, 'HEALTHCHECK CMD must use the JSON form');
    if (!final.instructions.some((i) => i.keyword === 'ENTRYPOINT' || i.keyword === 'CMD'))
      report('entrypoint', last, 'the runtime stage has no ENTRYPOINT or CMD');
  }
  return problems;
}

/** Problems with a .dockerignore: what must never reach the build context, and what must. */
export function lintDockerignore(text: string): Problem[] {
  const patterns = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const problems: Problem[] = [];
  const excluded = (path: string) => {
    let out = false;
    for (const p of patterns) {
      const negated = p.startsWith('!');
      const body = (negated ? p.slice(1) : p).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = new RegExp(
        `^${body
          .split('/')
          .map((part) =>
            part === '**'
              ? '(?:.*/)?'
              : `${part
                  .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                  .replace(/\*/g, '[^/]*')
                  .replace(/\?/g, '[^/]')}/`,
          )
          .join('')}`,
      );
      if (re.test(`${path}/`)) out = !negated;
    }
    return out;
  };
  for (const must of ['node_modules', 'services/msa/node_modules', '.git', '.cache', '.env', 'dist'])
    if (!excluded(must)) problems.push({ rule: 'dockerignore', line: 0, message: `${must} is not excluded` });
  for (const keep of [
    'package.json',
    'package-lock.json',
    'services/lib/db/migrations/001_foundation.sql',
    'docker/bundle.ts',
  ])
    if (excluded(keep))
      problems.push({ rule: 'dockerignore', line: 0, message: `${keep} is excluded but the build needs it` });
  return problems;
}
