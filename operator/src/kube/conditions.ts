export interface ConditionLike {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number | undefined;
}

/**
 * The conditions to write: lastTransitionTime is kept from the existing condition of the same type
 * while its status is unchanged (it marks transitions, not writes), so an unchanged world yields an
 * identical list and therefore no write.
 */
export function mergeConditions(
  existing: ConditionLike[] | undefined,
  desired: Array<Omit<ConditionLike, 'lastTransitionTime'>>,
  now: Date,
): ConditionLike[] {
  return desired.map((condition) => {
    const previous = existing?.find((c) => c.type === condition.type);
    const lastTransitionTime =
      previous && previous.status === condition.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { ...condition, lastTransitionTime };
  });
}

export function conditionOf<T extends { type: string }>(
  conditions: T[] | undefined,
  type: string,
): T | undefined {
  return conditions?.find((c) => c.type === type);
}
