import { TaskStatus } from '@tasklane/contracts';
import { failureRate, percentileOffset } from './task-stats.service';

describe('percentileOffset', () => {
  it.each([
    [0.5, 10, 4],
    [0.5, 11, 5],
    [0.5, 2, 0],
    [0.95, 20, 18],
    [0.95, 100, 94],
    [0.99, 100, 98],
    [0.99, 1_000, 989],
    [0.99, 10, 9],
    [1, 7, 6],
    [1, 1_000, 999],
    [0.5, 1, 0],
    [0.99, 1, 0],
    [1, 1, 0],
  ])('p%p of %p values is at offset %p', (p, n, offset) => {
    expect(percentileOffset(p, n)).toBe(offset);
  });

  it('always stays within 0..n−1 for the percentiles the service reads', () => {
    for (const p of [0.5, 0.95, 0.99, 1]) {
      for (let n = 1; n <= 2_000; n += 1) {
        const offset = percentileOffset(p, n);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThan(n);
      }
    }
  });
});

describe('failureRate', () => {
  it.each([
    ['is null with no tasks at all', {}, null],
    [
      'is null when nothing has finished',
      { [TaskStatus.Pending]: 3, [TaskStatus.Running]: 2, [TaskStatus.Cancelled]: 4 },
      null,
    ],
    ['is 0 when everything finished completed', { [TaskStatus.Completed]: 5 }, 0],
    ['is 1 when everything finished failed', { [TaskStatus.Failed]: 2 }, 1],
    [
      'is failed / (completed + failed), ignoring cancelled and open tasks',
      { [TaskStatus.Completed]: 3, [TaskStatus.Failed]: 1, [TaskStatus.Cancelled]: 10, [TaskStatus.Pending]: 7 },
      0.25,
    ],
    ['is null when the finished counts are zero', { [TaskStatus.Completed]: 0, [TaskStatus.Failed]: 0 }, null],
  ])('%s', (_, byStatus, expected) => {
    expect(failureRate(byStatus)).toBe(expected);
  });
});
