import { TASK_STATUSES, TaskStatus, isTerminalStatus, statusRank } from './task-status.enum';

describe('statusRank', () => {
  it('orders pending before running before terminal statuses', () => {
    expect(statusRank(TaskStatus.Pending)).toBeLessThan(statusRank(TaskStatus.Running));
    expect(statusRank(TaskStatus.Running)).toBeLessThan(statusRank(TaskStatus.Completed));
    expect(statusRank(TaskStatus.Failed)).toBe(statusRank(TaskStatus.Cancelled));
  });

  it('ranks every terminal status above every non-terminal one', () => {
    const terminal = TASK_STATUSES.filter(isTerminalStatus).map(statusRank);
    const open = TASK_STATUSES.filter((status) => !isTerminalStatus(status)).map(statusRank);
    expect(Math.min(...terminal)).toBeGreaterThan(Math.max(...open));
  });
});

describe('isTerminalStatus', () => {
  it.each([
    [TaskStatus.Pending, false],
    [TaskStatus.Running, false],
    [TaskStatus.Completed, true],
    [TaskStatus.Failed, true],
    [TaskStatus.Cancelled, true],
  ])('%s → %p', (status, expected) => {
    expect(isTerminalStatus(status)).toBe(expected);
  });
});
