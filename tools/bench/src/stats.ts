/** Percentiles and summaries of the benchmark's samples (pure, unit-tested). */

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The `p`-th percentile (0–100) of sorted samples, nearest-rank; NaN without samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
  };
}

export interface RankSummary {
  /** Mean 1-based completion rank of the marked items (ideal: (n + 1) / 2 for n marked). */
  meanRank: number;
  /** How many marked items are among the first `within` completions. */
  amongFirst: number;
  within: number;
  marked: number;
}

/**
 * Where the marked items (e.g. the high-priority tasks) finished in a completion order: their
 * mean 1-based rank and how many of them are among the first `within`.
 */
export function rankSummary(order: readonly boolean[], within: number): RankSummary {
  let sum = 0;
  let marked = 0;
  let amongFirst = 0;
  order.forEach((isMarked, index) => {
    if (isMarked) {
      marked += 1;
      sum += index + 1;
      if (index < within) {
        amongFirst += 1;
      }
    }
  });
  return { meanRank: marked === 0 ? Number.NaN : sum / marked, amongFirst, within, marked };
}

/** Rounds for display: integers stay, others keep `digits` decimals. */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
