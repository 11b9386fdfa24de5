import { percentile, percentiles, rankSummary, round } from './stats';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, index) => index + 1);

  it('gives the value at the nearest rank', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });

  it('is NaN without samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it('sorts unsorted samples in percentiles()', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p95: 5, p99: 5, max: 5 });
  });
});

describe('rankSummary', () => {
  it('gives the ideal 25.5 when 50 marked items finish first', () => {
    const order = [...Array.from({ length: 50 }, () => true), ...Array.from({ length: 2_000 }, () => false)];
    expect(rankSummary(order, 100)).toEqual({ meanRank: 25.5, amongFirst: 50, within: 100, marked: 50 });
  });

  it('counts marked items past the window', () => {
    const order = [false, true, false, false, true];
    expect(rankSummary(order, 3)).toEqual({ meanRank: 3.5, amongFirst: 1, within: 3, marked: 2 });
  });

  it('is NaN with nothing marked', () => {
    expect(rankSummary([false, false], 1).meanRank).toBeNaN();
  });
});

describe('round', () => {
  it('keeps the given decimals', () => {
    expect(round(1.2345, 2)).toBe(1.23);
    expect(round(2_000.04)).toBe(2_000);
  });
});
