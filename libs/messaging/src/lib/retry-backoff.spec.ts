import { retryDelayFor, retryDelayLevels } from './retry-backoff';

describe('retryDelayLevels', () => {
  it.each([
    [1_000, 300_000],
    [10, 86_400_000],
    [1, 10],
    [250, 250],
    [3_600_000, 86_400_000],
  ])('base %p, max %p: starts at base, increases strictly, stays within max', (base, max) => {
    const levels = retryDelayLevels(base, max);
    expect(levels[0]).toBe(base);
    levels.slice(1).forEach((level, i) => expect(level).toBeGreaterThan(levels[i]));
    expect(Math.max(...levels)).toBeLessThanOrEqual(max);
    expect(levels.length).toBeLessThanOrEqual(40);
  });

  it('spaces the levels by √2, rounded to whole milliseconds', () => {
    const levels = retryDelayLevels(1_000, 300_000);
    expect(levels.slice(0, 5)).toEqual([1_000, 1_414, 2_000, 2_828, 4_000]);
    levels.slice(1).forEach((level, i) => expect(level / levels[i]).toBeCloseTo(Math.SQRT2, 2));
  });

  it('ends at the last level not above max', () => {
    const levels = retryDelayLevels(1_000, 300_000);
    expect(levels[levels.length - 1]).toBe(256_000);
    expect(levels).toHaveLength(17);
  });

  it('drops levels that rounding makes equal', () => {
    expect(retryDelayLevels(1, 10)).toEqual([1, 2, 3, 4, 6, 8]);
  });

  it('falls back to the max alone when the base is above it', () => {
    expect(retryDelayLevels(5_000, 1_000)).toEqual([1_000]);
  });
});

describe('retryDelayFor', () => {
  const levels = retryDelayLevels(1_000, 300_000);
  const lowest = () => 0;
  const middle = () => 0.5;
  const highest = () => 0.999_999;

  it.each([
    ['lowest', lowest, 1_000],
    ['middle', middle, 1_414],
    ['highest', highest, 1_414],
  ])('waits base or base·√2 before retry 1 (%s draw)', (_, random, expected) => {
    expect(retryDelayFor(1, levels, random)).toBe(expected);
  });

  it.each([
    [2, [1_414, 2_000, 2_828]],
    [3, [2_828, 4_000, 5_657]],
    [4, [5_657, 8_000, 11_314]],
  ])('picks retry %p among the centre level and its two neighbours', (retry, [low, centre, high]) => {
    expect(retryDelayFor(retry, levels, lowest)).toBe(low);
    expect(retryDelayFor(retry, levels, middle)).toBe(centre);
    expect(retryDelayFor(retry, levels, highest)).toBe(high);
  });

  it('doubles the centre level with each retry after the first', () => {
    const delays = [2, 3, 4, 5, 6, 7, 8].map((retry) => retryDelayFor(retry, levels, middle));
    delays.slice(1).forEach((delay, i) => expect(delay / delays[i]).toBeCloseTo(2, 1));
  });

  it.each([9, 10, 50])('clamps retry %p to the last two levels', (retry) => {
    expect(retryDelayFor(retry, levels, lowest)).toBe(181_019);
    expect(retryDelayFor(retry, levels, highest)).toBe(256_000);
  });

  it('never goes past the last level, even if random() returns 1', () => {
    expect(retryDelayFor(50, levels, () => 1)).toBe(256_000);
    expect(retryDelayFor(1, levels, () => 1)).toBe(1_414);
  });

  it('always returns the only level when there is one', () => {
    expect(retryDelayFor(1, [500], highest)).toBe(500);
    expect(retryDelayFor(7, [500], lowest)).toBe(500);
  });

  it('only ever returns one of the levels with Math.random', () => {
    for (let retry = 1; retry <= 12; retry += 1) {
      expect(levels).toContain(retryDelayFor(retry, levels));
    }
  });
});
