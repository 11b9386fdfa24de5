import { TaskStatus, TaskType } from '@tasklane/contracts';
import { countStatement, sumCountChanges } from './task-counts';

describe('sumCountChanges', () => {
  it('adds an insert, takes off a delete, and moves a change of status from one count to the other', () => {
    expect(
      sumCountChanges([
        { task_type: 'email', from_status: null, to_status: 'pending' },
        { task_type: 'email', from_status: null, to_status: 'pending' },
        { task_type: 'email', from_status: 'pending', to_status: 'running' },
        { task_type: 'report', from_status: 'completed', to_status: null },
      ]),
    ).toEqual([
      { taskType: 'email', status: 'pending', delta: 1 },
      { taskType: 'email', status: 'running', delta: 1 },
      { taskType: 'report', status: 'completed', delta: -1 },
    ]);
  });

  it('drops sums that cancel out and orders the rest by task type then status', () => {
    expect(
      sumCountChanges([
        { task_type: 'report', from_status: null, to_status: 'pending' },
        { task_type: 'report', from_status: 'pending', to_status: 'running' },
        { task_type: 'report', from_status: 'running', to_status: 'completed' },
        { task_type: 'email', from_status: 'failed', to_status: null },
        { task_type: 'analytics', from_status: null, to_status: 'pending' },
        { task_type: 'analytics', from_status: 'pending', to_status: null },
      ]),
    ).toEqual([
      { taskType: 'email', status: 'failed', delta: -1 },
      { taskType: 'report', status: 'completed', delta: 1 },
    ]);
    expect(sumCountChanges([])).toEqual([]);
  });
});

describe('countStatement', () => {
  it('filters the counts and the journal alike, parameters in the order of the placeholders', () => {
    const { sql, params } = countStatement({ status: TaskStatus.Failed, taskType: TaskType.Report });
    expect(sql.split('?')).toHaveLength(params.length + 1);
    expect(params).toEqual([
      TaskType.Report,
      TaskStatus.Failed,
      TaskStatus.Failed,
      TaskStatus.Failed,
      TaskType.Report,
      TaskStatus.Failed,
      TaskStatus.Failed,
    ]);
  });

  it('counts every task without a filter: every insert in, every delete out', () => {
    const { sql, params } = countStatement({});
    expect(params).toEqual([]);
    expect(sql).toContain('(to_status IS NOT NULL) - (from_status IS NOT NULL)');
    expect(sql).not.toContain('WHERE');
  });
});
