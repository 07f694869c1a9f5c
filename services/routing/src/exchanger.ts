export type EffectiveExchanger = 'local' | 'remote' | 'backup';

export interface MxRecord {
  exchange: string;
  priority: number;
}

const norm = (host: string) => host.toLowerCase().replace(/\.$/, '');

/**
 * `auto` mode from the domain's MX records: local when a lowest-preference MX is one of ours,
 * backup when a lower one points elsewhere and one of ours is listed, remote when none is ours.
 */
export function decideExchanger(
  records: MxRecord[],
  ourNames: string[],
): { effective: EffectiveExchanger; reason: string } {
  const ours = new Set(ourNames.map(norm));
  if (records.length === 0) return { effective: 'remote', reason: 'no MX records; none points at us' };
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  const lowest = sorted[0]!.priority;
  const best = sorted.filter((r) => r.priority === lowest);
  const primary = best.find((r) => ours.has(norm(r.exchange)));
  if (primary)
    return {
      effective: 'local',
      reason: `lowest-preference MX ${norm(primary.exchange)} (${lowest}) points at us`,
    };
  const secondary = sorted.find((r) => ours.has(norm(r.exchange)));
  if (secondary)
    return {
      effective: 'backup',
      reason: `MX ${norm(secondary.exchange)} (${secondary.priority}) points at us behind ${norm(best[0]!.exchange)} (${lowest})`,
    };
  return {
    effective: 'remote',
    reason: `no MX points at us (lowest: ${norm(best[0]!.exchange)} (${lowest}))`,
  };
}
