import { TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';
import { toTaskResource } from './background-task.mapper';

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
    ...overrides,
  });
}

describe('toTaskResource', () => {
  it('maps a row to the snake_case resource with ISO-8601 UTC millisecond timestamps', () => {
    expect(toTaskResource(row())).toEqual({
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
      started_at: '2026-01-02T03:04:06.001Z',
      completed_at: '2026-01-02T03:04:07.999Z',
    });
  });

  it('gives null for unset timestamps and result, and {} for missing params', () => {
    const resource = toTaskResource(
      row({ status: TaskStatus.Pending, startedAt: null, completedAt: null, result: null, params: null }),
    );
    expect(resource).toMatchObject({ started_at: null, completed_at: null, result: null, params: {} });
  });

  it("gives a row stored before timeouts existed (timeout_ms NULL) the catalogue's default timeout", () => {
    expect(toTaskResource(row({ timeoutMs: null })).timeout_ms).toBe(60_000);
    expect(toTaskResource(row({ timeoutMs: null, taskName: TaskName.CleanupPurgeTasks })).timeout_ms).toBe(1_800_000);
  });
});
