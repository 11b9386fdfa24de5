/**
 * Delay levels for retries: base × √2^k up to `maxMs`. Each level is one TTL queue, so the set
 * must stay small; √2 spacing gives jitter room without a queue per delay.
 */
export function retryDelayLevels(baseMs: number, maxMs: number): number[] {
  const levels: number[] = [];
  for (let k = 0; ; k += 1) {
    const delay = Math.round(baseMs * Math.SQRT2 ** k);
    if (delay > maxMs || levels.length >= 40) {
      break;
    }
    if (levels[levels.length - 1] !== delay) {
      levels.push(delay);
    }
  }
  return levels.length > 0 ? levels : [Math.max(1, Math.round(maxMs))];
}

/**
 * Exponential backoff with jitter, snapped to the levels: retry n (1-based) waits about
 * base × 2^(n−1), picked at random among the level for that and its two neighbours (×/÷ √2),
 * and never more than the last level.
 */
export function retryDelayFor(
  retryNumber: number,
  levels: readonly number[],
  random: () => number = Math.random,
): number {
  const last = levels.length - 1;
  const centre = Math.min(2 * Math.max(0, retryNumber - 1), last);
  const low = Math.max(0, centre - 1);
  const high = Math.min(last, centre + 1);
  const index = low + Math.floor(random() * (high - low + 1));
  return levels[Math.min(index, high)];
}
