const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Go-style duration ("48h", "1h30m", "90s") in milliseconds; the CRD pattern guarantees the form. */
export function parseDuration(text: string): number {
  let total = 0;
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (durationUnits[match[2] ?? 's'] ?? 1_000);
  }
  return Math.round(total);
}

const quantityUnits: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Kubernetes-style quantity ("25Mi", "1G", "500000") in bytes. */
export function parseQuantity(text: string): number {
  const match = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  if (!match) throw new Error(`not a quantity: ${text}`);
  return Number(match[1]) * (quantityUnits[match[2] ?? ''] ?? 1);
}
