import { ProgressReport } from '@tasklane/persistence';
import { ProgressReporter, clampPercent, progressMessage } from './progress-reporter';

function reporterWith(write: (reports: readonly ProgressReport[]) => Promise<number>) {
  const writes: ProgressReport[][] = [];
  const reporter = new ProgressReporter(
    {
      reportProgress: (reports) => {
        writes.push([...reports]);
        return write(reports);
      },
    },
    { PROGRESS_FLUSH_INTERVAL_MS: 500 },
  );
  return { reporter, writes };
}

describe('ProgressReporter', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('coalesces: a thousand reports in a second are two writes, each the latest of every task', async () => {
    const { reporter, writes } = reporterWith(async (reports) => reports.length);
    for (let index = 1; index <= 1_000; index += 1) {
      reporter.report('task-a', 1, index / 10, `step ${index}`);
      if (index % 2 === 0) {
        reporter.report('task-b', 3, index / 20);
      }
      await jest.advanceTimersByTimeAsync(1);
    }
    await jest.advanceTimersByTimeAsync(500);
    expect(writes.length).toBeLessThanOrEqual(3);
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes[writes.length - 1]).toEqual([
      { taskId: 'task-a', attempt: 1, percent: 100, message: 'step 1000' },
      { taskId: 'task-b', attempt: 3, percent: 50, message: null },
    ]);
    // Nothing new reported: nothing more is written.
    await jest.advanceTimersByTimeAsync(5_000);
    expect(writes.length).toBeLessThanOrEqual(3);
  });

  it('forgets what a finished attempt reported but did not write, not a newer attempt', async () => {
    const { reporter, writes } = reporterWith(async (reports) => reports.length);
    reporter.report('task-a', 1, 40);
    reporter.forget('task-a', 1);
    reporter.report('task-b', 2, 10);
    reporter.forget('task-b', 1);
    await jest.advanceTimersByTimeAsync(600);
    expect(writes).toEqual([[{ taskId: 'task-b', attempt: 2, percent: 10, message: null }]]);
  });

  it('keeps the reports of a failed write for the next flush, unless a newer one came', async () => {
    let fail = true;
    const { reporter, writes } = reporterWith(async (reports) => {
      if (fail) {
        fail = false;
        throw new Error('database away');
      }
      return reports.length;
    });
    reporter.report('task-a', 1, 10);
    reporter.report('task-b', 1, 20);
    await jest.advanceTimersByTimeAsync(500);
    reporter.report('task-b', 1, 30);
    await jest.advanceTimersByTimeAsync(600);
    expect(writes[1]).toEqual(
      expect.arrayContaining([
        { taskId: 'task-a', attempt: 1, percent: 10, message: null },
        { taskId: 'task-b', attempt: 1, percent: 30, message: null },
      ]),
    );
    expect(writes[1]).toHaveLength(2);
  });
});

describe('progress values', () => {
  it.each([
    [42.4, 42],
    [42.5, 43],
    [-3, 0],
    [250, 100],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 100],
  ])('percent %p is stored as %p', (given, stored) => {
    expect(clampPercent(given)).toBe(stored);
  });

  it('messages are at most 255 characters, never cut inside a character; empty is none', () => {
    expect(progressMessage('')).toBeNull();
    expect(progressMessage(undefined)).toBeNull();
    expect(progressMessage('copying 3 of 10')).toBe('copying 3 of 10');
    const long = '✓'.repeat(300);
    expect(progressMessage(long)).toBe('✓'.repeat(255));
    expect(progressMessage('😀'.repeat(300))?.length).toBe(510);
  });
});
