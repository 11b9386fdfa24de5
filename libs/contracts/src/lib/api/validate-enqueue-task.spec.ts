import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';
import { FieldError } from '../validation/validate-dto';
import { validateEnqueueTask } from './validate-enqueue-task';

const email = { to: 'someone@example.com', subject: 'Hello', body: 'Hi there' };

function errorFields(body: unknown): string[] {
  const result = validateEnqueueTask(body);
  if (result.ok) {
    throw new Error(`expected ${JSON.stringify(body)} to be invalid`);
  }
  return result.errors.map((error: FieldError) => error.field);
}

describe('validateEnqueueTask', () => {
  it('applies the defaults for priority, max_retries, params, task_type and timeout_ms', () => {
    expect(validateEnqueueTask({ task_name: 'cleanup.purge_tasks' })).toEqual({
      ok: true,
      value: {
        task_name: TaskName.CleanupPurgeTasks,
        task_type: TaskType.Cleanup,
        params: {},
        priority: 5,
        max_retries: 3,
        timeout_ms: 1_800_000,
        run_at: null,
        delay_ms: null,
        schedule: null,
        idempotency_key: null,
      },
    });
  });

  it('keeps the values that were given', () => {
    const result = validateEnqueueTask({
      task_name: 'email.send',
      task_type: 'email',
      params: email,
      priority: 10,
      max_retries: 0,
      timeout_ms: 5_000,
    });
    expect(result).toEqual({
      ok: true,
      value: {
        task_name: 'email.send',
        task_type: 'email',
        params: email,
        priority: 10,
        max_retries: 0,
        timeout_ms: 5_000,
        run_at: null,
        delay_ms: null,
        schedule: null,
        idempotency_key: null,
      },
    });
  });

  it.each([
    [TaskName.EmailSend, { params: email }, TaskType.Email],
    [TaskName.ReportTasksSummary, {}, TaskType.Report],
    [TaskName.AnalyticsTaskStats, {}, TaskType.Analytics],
    [TaskName.CleanupPurgeTasks, {}, TaskType.Cleanup],
  ])('defaults task_type of %s from the catalogue', (taskName, extra, expectedType) => {
    const result = validateEnqueueTask({ task_name: taskName, ...extra });
    expect(result.ok && result.value.task_type).toBe(expectedType);
  });

  it('rejects a task_type that does not match the task', () => {
    expect(validateEnqueueTask({ task_name: 'email.send', task_type: 'report', params: email })).toEqual({
      ok: false,
      errors: [{ field: 'task_type', message: 'task_type must be email for email.send' }],
    });
  });

  it('requires task_type for a diagnostic task', () => {
    const result = validateEnqueueTask({ task_name: 'diagnostic.sleep', params: { ms: 10 } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      { field: 'task_type', message: expect.stringContaining('task_type is required for diagnostic.sleep') },
    ]);
  });

  it.each(Object.values(TaskType))('accepts diagnostic.sleep on the %s type', (taskType) => {
    const result = validateEnqueueTask({ task_name: 'diagnostic.sleep', task_type: taskType, params: { ms: 10 } });
    expect(result.ok && result.value.task_type).toBe(taskType);
  });

  it("validates params against the task's DTO", () => {
    expect(errorFields({ task_name: 'email.send', params: { ...email, to: 'not-an-email' } })).toEqual(['params.to']);
  });

  it('validates missing params as an empty object', () => {
    expect(new Set(errorFields({ task_name: 'diagnostic.fail', task_type: 'email' }))).toEqual(
      new Set(['params.message']),
    );
  });

  it('reports every bad field at once', () => {
    const fields = errorFields({
      task_name: 'email.send',
      params: { ...email, to: 'not-an-email' },
      priority: 0,
      max_retries: 11,
    });
    expect(new Set(fields)).toEqual(new Set(['priority', 'max_retries', 'params.to']));
  });

  it.each([
    ['priority', 0, false],
    ['priority', 1, true],
    ['priority', 10, true],
    ['priority', 11, false],
    ['priority', 2.5, false],
    ['priority', '5', false],
    ['max_retries', -1, false],
    ['max_retries', 0, true],
    ['max_retries', 10, true],
    ['max_retries', 11, false],
    ['max_retries', '3', false],
  ])('%s = %p is valid: %p', (field, value, valid) => {
    const result = validateEnqueueTask({ task_name: 'cleanup.purge_tasks', [field]: value });
    expect(result.ok).toBe(valid);
    if (!result.ok) {
      expect(result.errors.map((error) => error.field)).toEqual(Array(result.errors.length).fill(field));
    }
  });

  it.each(['nope', undefined, 42])('rejects the task_name %p without checking anything else', (taskName) => {
    expect(errorFields({ task_name: taskName, params: { anything: true } })).toEqual(['task_name']);
  });

  it('rejects unknown top-level properties', () => {
    expect(errorFields({ task_name: 'cleanup.purge_tasks', extra: 1 })).toEqual(['extra']);
  });

  it.each([null, [], 'text'])('rejects the non-object body %p', (body) => {
    expect(errorFields(body)).toEqual(['(body)']);
  });

  it('rejects params that are not an object without validating them further', () => {
    expect(errorFields({ task_name: 'email.send', params: [] })).toEqual(['params']);
  });
});
