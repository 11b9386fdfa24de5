import { TaskStatus, TaskType } from '@tasklane/contracts';
import { at, useTaskRepositories } from '../background-task/task-repositories.fixture';
import { TaskReportingRepository } from './task-reporting.repository';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskReportingRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_reporting');
  const window = { from: at(0), to: at(60_000) };
  let reporting: TaskReportingRepository;
  const email: string[] = [];
  const report: string[] = [];

  /** Marks a task completed after running `ms` milliseconds from `at(1_000)`. */
  async function completed(taskId: string, ms: number): Promise<void> {
    await fixture.dataSource.query(
      'UPDATE background_tasks SET status = ?, started_at = ?, completed_at = ? WHERE task_id = ?',
      [TaskStatus.Completed, at(1_000), at(1_000 + ms), taskId],
    );
  }

  beforeAll(async () => {
    reporting = new TaskReportingRepository(fixture.dataSource);
    for (let index = 0; index < 5; index += 1) {
      email.push((await fixture.inserted({ taskType: TaskType.Email, createdAt: at(index) })).taskId);
    }
    for (let index = 0; index < 2; index += 1) {
      report.push((await fixture.inserted({ taskType: TaskType.Report, createdAt: at(10 + index) })).taskId);
    }
    // Outside the window: created when it ends (the window is half-open) and before it starts.
    await fixture.inserted({ taskType: TaskType.Email, createdAt: at(60_000) });
    await fixture.inserted({ taskType: TaskType.Email, createdAt: at(-1) });
    await completed(email[0], 300);
    await completed(email[1], 100);
    await completed(email[2], 200);
  });

  it('pages the tasks created in the window by id, keyset after the last one, optionally of one type', async () => {
    const first = await reporting.page(window, 0, 4);
    const rest = await reporting.page(window, first[first.length - 1].id, 4);
    expect([...first, ...rest].map((row) => row.task_id)).toEqual([...email, ...report]);
    expect(first).toHaveLength(4);
    expect(await reporting.page(window, rest[rest.length - 1].id, 4)).toEqual([]);
    expect(first[0]).toMatchObject({
      task_id: email[0],
      task_type: TaskType.Email,
      status: TaskStatus.Completed,
      created_at: at(0),
      started_at: at(1_000),
      completed_at: at(1_300),
      error_message: null,
    });
    const reports = await reporting.page({ ...window, taskType: TaskType.Report }, 0, 10);
    expect(reports.map((row) => row.task_id)).toEqual(report);
  });

  it('counts the window by type and status, as numbers', async () => {
    const counts = await reporting.countByTypeAndStatus(window);
    expect([...counts].sort((a, b) => `${a.task_type}${a.status}`.localeCompare(`${b.task_type}${b.status}`))).toEqual([
      { task_type: TaskType.Email, status: TaskStatus.Completed, n: 3 },
      { task_type: TaskType.Email, status: TaskStatus.Pending, n: 2 },
      { task_type: TaskType.Report, status: TaskStatus.Pending, n: 2 },
    ]);
    expect(await reporting.countByTypeAndStatus({ ...window, taskType: TaskType.Report })).toEqual([
      { task_type: TaskType.Report, status: TaskStatus.Pending, n: 2 },
    ]);
  });

  it('reads the run time of completed tasks by rank, in milliseconds; null past the last', async () => {
    const ranks = await Promise.all(
      [0, 1, 2, 3].map((offset) => reporting.runTimeAtRank(TaskType.Email, window, offset)),
    );
    expect(ranks).toEqual([100, 200, 300, null]);
    expect(await reporting.runTimeAtRank(TaskType.Report, window, 0)).toBeNull();
  });
});
