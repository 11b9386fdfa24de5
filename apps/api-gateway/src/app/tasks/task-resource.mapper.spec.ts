import { TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { BackgroundTask, BackgroundTaskRun, NewTask } from '@tasklane/persistence';
import { decodeListCursor } from './task-cursor';
import { toPendingTaskResource, toTaskPage, toTaskResource, toTaskRunResource } from './task-resource.mapper';

function row(overrides: Partial<BackgroundTask> = {}): BackgroundTask {
  return Object.assign(new BackgroundTask(), {
    id: '1',
    taskId: '01890a5d-ac96-774b-bcce-b302099a8057',
    taskName: TaskName.EmailSend,
    taskType: TaskType.Email,
    priority: 7,
    status: TaskStatus.Completed,
    params: { to: 'a@example.com' },
    result: { ok: true },
    errorMessage: null,
    retryCount: 1,
    maxRetries: 3,
    timeoutMs: 45_000,
    run: 2,
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    startedAt: new Date('2026-01-02T03:04:06.001Z'),
    completedAt: new Date('2026-01-02T03:04:07.999Z'),
    runAt: null,
    progress: null,
    progressMessage: null,
    ...overrides,
  });
}

describe('toTaskResource', () => {
  it('maps a row to the snake_case resource with ISO-8601 UTC millisecond timestamps', () => {
    expect(
      toTaskResource(row({ runAt: new Date('2026-01-02T03:04:06.000Z'), progress: 100, progressMessage: 'done' })),
    ).toEqual({
      task_id: '01890a5d-ac96-774b-bcce-b302099a8057',
      task_name: 'email.send',
      task_type: 'email',
      priority: 7,
      status: 'completed',
      params: { to: 'a@example.com' },
      result: { ok: true },
      error_message: null,
      retry_count: 1,
      max_retries: 3,
      timeout_ms: 45_000,
      run: 2,
      created_at: '2026-01-02T03:04:05.678Z',
      run_at: '2026-01-02T03:04:06.000Z',
      progress: 100,
      progress_message: 'done',
      started_at: '2026-01-02T03:04:06.001Z',
      completed_at: '2026-01-02T03:04:07.999Z',
    });
  });

  it('gives null for unset timestamps and result, and {} for missing params', () => {
    const resource = toTaskResource(
      row({ status: TaskStatus.Pending, startedAt: null, completedAt: null, result: null, params: null }),
    );
    expect(resource).toMatchObject({ run_at: null, started_at: null, completed_at: null, result: null, params: {} });
  });

  it("gives a row stored before timeouts existed (timeout_ms NULL) the catalogue's default timeout", () => {
    expect(toTaskResource(row({ timeoutMs: null })).timeout_ms).toBe(60_000);
    expect(toTaskResource(row({ timeoutMs: null, taskName: TaskName.CleanupPurgeTasks })).timeout_ms).toBe(1_800_000);
  });
});

describe('toPendingTaskResource', () => {
  const task: NewTask = {
    taskId: '01890a5d-ac96-774b-bcce-b302099a8057',
    taskName: TaskName.EmailSend,
    taskType: TaskType.Email,
    priority: 7,
    params: { to: 'a@example.com' },
    maxRetries: 3,
    timeoutMs: 45_000,
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
  };

  it('shows a task just inserted: pending, first run, nothing run yet', () => {
    expect(toPendingTaskResource(task)).toEqual({
      task_id: '01890a5d-ac96-774b-bcce-b302099a8057',
      task_name: 'email.send',
      task_type: 'email',
      priority: 7,
      status: 'pending',
      params: { to: 'a@example.com' },
      result: null,
      error_message: null,
      retry_count: 0,
      max_retries: 3,
      timeout_ms: 45_000,
      run: 1,
      created_at: '2026-01-02T03:04:05.678Z',
      run_at: null,
      progress: null,
      progress_message: null,
      started_at: null,
      completed_at: null,
    });
  });

  it('shows when a scheduled task was asked to start', () => {
    expect(toPendingTaskResource({ ...task, runAt: new Date('2026-01-03T00:00:00.000Z') }).run_at).toBe(
      '2026-01-03T00:00:00.000Z',
    );
  });

  it('is what its row reads as once inserted', () => {
    const inserted = row({
      ...task,
      status: TaskStatus.Pending,
      result: null,
      retryCount: 0,
      run: 1,
      startedAt: null,
      completedAt: null,
    });
    expect(toPendingTaskResource(task)).toEqual(toTaskResource(inserted));
  });
});

describe('toTaskRunResource', () => {
  const run = (overrides: Partial<BackgroundTaskRun> = {}): BackgroundTaskRun =>
    Object.assign(new BackgroundTaskRun(), {
      id: '9',
      taskId: '01890a5d-ac96-774b-bcce-b302099a8057',
      run: 1,
      status: TaskStatus.Failed,
      retryCount: 3,
      result: null,
      errorMessage: 'boom',
      startedAt: new Date('2026-01-02T03:04:06.001Z'),
      completedAt: new Date('2026-01-02T03:04:07.999Z'),
      archivedAt: new Date('2026-01-02T03:05:00.000Z'),
      ...overrides,
    });

  it('maps an archived run to its snake_case resource with ISO-8601 timestamps', () => {
    expect(toTaskRunResource(run())).toEqual({
      run: 1,
      status: 'failed',
      retry_count: 3,
      result: null,
      error_message: 'boom',
      started_at: '2026-01-02T03:04:06.001Z',
      completed_at: '2026-01-02T03:04:07.999Z',
      archived_at: '2026-01-02T03:05:00.000Z',
    });
  });

  it('gives null for a run never started and a missing result', () => {
    expect(
      toTaskRunResource(run({ status: TaskStatus.Cancelled, startedAt: null, result: undefined, errorMessage: null })),
    ).toMatchObject({ started_at: null, result: null, error_message: null });
  });
});

describe('toTaskPage', () => {
  it('maps the rows, keeps the total, and gives the next page a cursor of the position after', () => {
    const rows = [row({ taskId: 'b', id: '12' }), row({ taskId: 'a', id: '11' })];
    const next = { createdAt: rows[1].createdAt, id: '11' };
    const page = toTaskPage({ rows, total: 7, next }, { limit: 2, offset: 4 });
    expect(page).toEqual({
      items: rows.map(toTaskResource),
      total: 7,
      limit: 2,
      offset: 4,
      next_cursor: expect.any(String),
    });
    expect(decodeListCursor(page.next_cursor ?? '')).toEqual(next);
  });

  it('has no next_cursor on the last page, and a null total on a keyset page', () => {
    expect(toTaskPage({ rows: [], total: null, next: null }, { limit: 10, offset: 0 })).toEqual({
      items: [],
      total: null,
      limit: 10,
      offset: 0,
      next_cursor: null,
    });
  });
});
