import type { StoredLimitOverrides, SubmissionLimitOverrides } from '@hermod/accounts';
import { UsageError } from '../command.js';

/** The flags of `hermod user limits` and `hermod domain limits`, and the override each sets. */
export const limitFlags = ['messages-per-hour', 'recipients-per-hour', 'max-sessions', 'auto-suspend'];

export const limitFlagsHelp = `  --messages-per-hour N|inherit     messages (MAIL FROM) per clock hour; 0 is no limit
  --recipients-per-hour N|inherit   recipients per clock hour; 0 is no limit
  --max-sessions N|inherit          authenticated submission sessions at once (per msa replica)
  --auto-suspend on|off|inherit     whether repeatedly hitting the recipient limit suspends sending`;

function count(flag: string, value: string): number | null {
  if (value === 'inherit') return null;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 31 - 1)
    throw new UsageError(`--${flag} must be a whole number (0 for no limit) or 'inherit'`);
  return Number(value);
}

/** The overrides named on the command line (an unnamed one stays as stored). */
export function parseLimitOverrides(values: Record<string, string>): SubmissionLimitOverrides {
  const overrides: SubmissionLimitOverrides = {};
  const v = values;
  if (v['messages-per-hour'] !== undefined)
    overrides.messagesPerHour = count('messages-per-hour', v['messages-per-hour']);
  if (v['recipients-per-hour'] !== undefined)
    overrides.recipientsPerHour = count('recipients-per-hour', v['recipients-per-hour']);
  if (v['max-sessions'] !== undefined) overrides.maxSessions = count('max-sessions', v['max-sessions']);
  const auto = v['auto-suspend'];
  if (auto !== undefined) {
    if (!['on', 'off', 'inherit'].includes(auto))
      throw new UsageError("--auto-suspend must be on, off or 'inherit'");
    overrides.autoSuspend = auto === 'inherit' ? null : auto === 'on';
  }
  return overrides;
}

/** One line per override, 'inherit' where none is stored. */
export function formatLimitOverrides(stored: StoredLimitOverrides): string {
  const show = (value: number | boolean | null) =>
    value === null ? 'inherit' : typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  return [
    `messages-per-hour    ${show(stored.messagesPerHour)}`,
    `recipients-per-hour  ${show(stored.recipientsPerHour)}`,
    `max-sessions         ${show(stored.maxSessions)}`,
    `auto-suspend         ${show(stored.autoSuspend)}`,
  ].join('\n');
}
