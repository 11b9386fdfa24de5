import { validateEnqueueTask } from '../api/validate-enqueue-task';
import { decodeTaskCommand, encodeMessage } from '../messaging/message-codec';
import { TaskCommand } from '../messaging/task-command';
import { newTaskId } from '../messaging/task-id';
import { TASK_CATALOGUE, taskDefinition } from './task-catalogue';
import { TaskTimeout } from './task-limits';
import { TASK_NAMES, TaskName } from './task-name.enum';
import { TaskType } from './task-type.enum';

/** `timeout_ms` (ADR 0006): its bounds, and the catalogue default where a request or a message has none. */

describe('TaskTimeout', () => {
  it('is 100 ms to 24 hours', () => {
    expect(TaskTimeout).toEqual({ MinMs: 100, MaxMs: 86_400_000 });
  });

  it.each(TASK_NAMES)('gives %s a default timeout within the bounds', (name) => {
    const { defaultTimeoutMs } = taskDefinition(name);
    expect(Number.isInteger(defaultTimeoutMs)).toBe(true);
    expect(defaultTimeoutMs).toBeGreaterThanOrEqual(TaskTimeout.MinMs);
    expect(defaultTimeoutMs).toBeLessThanOrEqual(TaskTimeout.MaxMs);
  });
});

describe('validateEnqueueTask: timeout_ms', () => {
  /** A valid request of each task name, with its own params. */
  const requests: Record<TaskName, Record<string, unknown>> = {
    [TaskName.EmailSend]: { params: { to: 'someone@example.com', subject: 'Hi', body: 'Hello' } },
    [TaskName.ReportTasksSummary]: {},
    [TaskName.AnalyticsTaskStats]: {},
    [TaskName.CleanupPurgeTasks]: {},
    [TaskName.DiagnosticSleep]: { task_type: TaskType.Report, params: { ms: 1 } },
    [TaskName.DiagnosticFail]: { task_type: TaskType.Email, params: { message: 'boom' } },
  };

  it.each(TASK_NAMES)("defaults to the catalogue's timeout of %s", (name) => {
    const result = validateEnqueueTask({ task_name: name, ...requests[name] });
    expect(result.ok && result.value.timeout_ms).toBe(TASK_CATALOGUE[name].defaultTimeoutMs);
  });

  it('does not use one default for every task', () => {
    const defaults = new Set(TASK_NAMES.map((name) => taskDefinition(name).defaultTimeoutMs));
    expect(defaults.size).toBeGreaterThan(1);
    const email = validateEnqueueTask({ task_name: TaskName.EmailSend, ...requests[TaskName.EmailSend] });
    const cleanup = validateEnqueueTask({ task_name: TaskName.CleanupPurgeTasks });
    expect(email.ok && email.value.timeout_ms).toBe(60_000);
    expect(cleanup.ok && cleanup.value.timeout_ms).toBe(1_800_000);
  });

  it.each([100, 101, 500, 60_000, 86_399_999, 86_400_000])('accepts and keeps %p', (timeoutMs) => {
    const result = validateEnqueueTask({ task_name: TaskName.CleanupPurgeTasks, timeout_ms: timeoutMs });
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ timeout_ms: timeoutMs }) });
  });

  it.each([
    ['0', 0],
    ['99 (below 100)', 99],
    ['-1', -1],
    ['86,400,001 (above 24 h)', 86_400_001],
    ['a fraction', 1000.5],
    ['a string', '500'],
    ['a boolean', true],
    ['an object', { ms: 500 }],
  ])('rejects %s, naming timeout_ms only', (_, timeoutMs) => {
    const result = validateEnqueueTask({ task_name: TaskName.CleanupPurgeTasks, timeout_ms: timeoutMs });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((error) => error.field))).toEqual(new Set(['timeout_ms']));
  });

  it('reports the bound it broke', () => {
    const low = validateEnqueueTask({ task_name: TaskName.CleanupPurgeTasks, timeout_ms: 99 });
    const high = validateEnqueueTask({ task_name: TaskName.CleanupPurgeTasks, timeout_ms: 86_400_001 });
    expect(low.ok ? [] : low.errors.map((error) => error.message)).toEqual(['timeout_ms must not be less than 100']);
    expect(high.ok ? [] : high.errors.map((error) => error.message)).toEqual([
      'timeout_ms must not be greater than 86400000',
    ]);
  });
});

describe('decodeTaskCommand: timeout_ms', () => {
  const command: TaskCommand<TaskName.DiagnosticSleep> = {
    task_id: newTaskId(Date.UTC(2026, 0, 1)),
    task_name: TaskName.DiagnosticSleep,
    task_type: TaskType.Report,
    params: { ms: 1 },
    priority: 5,
    max_retries: 3,
    retry_count: 0,
    timeout_ms: 500,
  };

  function raw(body: unknown): Buffer {
    return Buffer.from(JSON.stringify(body));
  }

  it('keeps the timeout the command carries', () => {
    const decoded = decodeTaskCommand(encodeMessage(command), TaskType.Report);
    expect(decoded.ok && decoded.value.timeout_ms).toBe(500);
  });

  it.each([
    [TaskName.DiagnosticSleep, TaskType.Report, { ms: 1 }],
    [TaskName.EmailSend, TaskType.Email, { to: 'someone@example.com', subject: 'Hi', body: 'Hello' }],
    [TaskName.CleanupPurgeTasks, TaskType.Cleanup, {}],
  ])("defaults a command of %s published before timeouts existed to the catalogue's timeout", (name, type, params) => {
    const older: Record<string, unknown> = { ...command, task_name: name, task_type: type, params };
    delete older['timeout_ms'];
    const decoded = decodeTaskCommand(raw(older), type);
    expect(decoded).toEqual({
      ok: true,
      value: expect.objectContaining({ task_name: name, timeout_ms: taskDefinition(name).defaultTimeoutMs }),
    });
  });

  it.each([100, 86_400_000])('accepts the bound %p', (timeoutMs) => {
    const decoded = decodeTaskCommand(raw({ ...command, timeout_ms: timeoutMs }), TaskType.Report);
    expect(decoded.ok && decoded.value.timeout_ms).toBe(timeoutMs);
  });

  it.each([
    ['below 100', 99],
    ['0', 0],
    ['above 24 h', 86_400_001],
    ['a fraction', 250.5],
    ['a string', '500'],
    ['a boolean', false],
  ])('rejects a timeout_ms that is %s as poison, keeping the task id', (_, timeoutMs) => {
    const decoded = decodeTaskCommand(raw({ ...command, timeout_ms: timeoutMs }), TaskType.Report);
    expect(decoded).toEqual({
      ok: false,
      reason: 'timeout_ms must be an integer from 100 to 86400000',
      taskId: command.task_id,
    });
  });
});
