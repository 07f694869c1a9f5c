/**
 * Hermod's rate over its peer's, round by round: the two run back to back on the same box, so a
 * round's ratio is the least disturbed by the box's other load. The median of the warm rounds
 * (all but the first) is the figure to quote; best/best can pair a quiet moment with a noisy one.
 */
export function roundRatios(hermod: number[], peer: number[]): { perRound: number[]; warmMedian: number } {
  const perRound = hermod.map((rate, i) => rate / (peer[i] ?? Number.NaN));
  const warm = (perRound.length > 1 ? perRound.slice(1) : perRound).slice().sort((a, b) => a - b);
  const mid = Math.floor(warm.length / 2);
  const warmMedian = warm.length % 2 === 1 ? warm[mid]! : (warm[mid - 1]! + warm[mid]!) / 2;
  return { perRound, warmMedian };
}

export const formatRatios = ({ perRound, warmMedian }: ReturnType<typeof roundRatios>): string =>
  `per round ${perRound.map((r) => r.toFixed(2)).join(', ')}; median of warm rounds ${warmMedian.toFixed(2)}`;
