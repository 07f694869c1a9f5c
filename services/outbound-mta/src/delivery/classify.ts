import { readFileSync } from 'node:fs';
import { z } from 'zod';

const RuleFile = z.object({
  rules: z.array(
    z.object({
      pattern: z.string().min(1),
      action: z.enum(['defer', 'bounce']),
      category: z.string().min(1),
    }),
  ),
});

export interface Classification {
  action: 'defer' | 'bounce';
  category: string;
  /** Enhanced status code for the DSN (from the reply, else derived from the code class). */
  status: string;
}

export type ReplyClassifier = (code: number, text: string) => Classification;

/** The bundled rule table (data, not code): services/outbound-mta/config/smtp-replies.json. */
export const defaultRulesFile = new URL('../../config/smtp-replies.json', import.meta.url);

export function loadReplyClassifier(file: string | URL = defaultRulesFile): ReplyClassifier {
  const parsed = RuleFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  const rules = parsed.rules.map((r) => ({ ...r, regex: new RegExp(r.pattern, 'i') }));
  return (code, text) => {
    const line = `${code} ${text}`;
    const enhanced = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(text)?.[0];
    const rule = rules.find((r) => r.regex.test(line));
    const action = rule?.action ?? (code >= 500 ? 'bounce' : 'defer');
    const status = enhanced ?? (code >= 500 ? '5.0.0' : '4.0.0');
    return { action, category: rule?.category ?? (action === 'defer' ? 'temporary' : 'permanent'), status };
  };
}
