import { ThroughputWindow } from './throughput-window';

const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 4, 0, s));

describe('ThroughputWindow', () => {
  it('turns totals into tasks finished per interval, oldest first, keeping the last N', () => {
    const window = new ThroughputWindow(2);
    window.record({ at: at(0), completed: 100, failed: 5 });
    expect(window.snapshot()).toEqual([]);
    window.record({ at: at(5), completed: 130, failed: 5 });
    window.record({ at: at(10), completed: 131, failed: 7 });
    window.record({ at: at(15), completed: 171, failed: 7 });
    expect(window.snapshot()).toEqual([
      { at: at(10).toISOString(), completed: 1, failed: 2 },
      { at: at(15).toISOString(), completed: 40, failed: 0 },
    ]);
  });

  it('counts a total that went down (a purge, a retry) as nothing finished, not a negative number', () => {
    const window = new ThroughputWindow(10);
    window.record({ at: at(0), completed: 1_000, failed: 10 });
    window.record({ at: at(5), completed: 2, failed: 9 });
    window.record({ at: at(10), completed: 12, failed: 9 });
    expect(window.snapshot().map(({ completed, failed }) => [completed, failed])).toEqual([
      [0, 0],
      [10, 0],
    ]);
  });
});
