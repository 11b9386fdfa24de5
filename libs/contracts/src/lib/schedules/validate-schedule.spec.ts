import 'reflect-metadata';
import { TaskName } from '../tasks/task-name.enum';
import { taskDefinition } from '../tasks/task-catalogue';
import { TaskType } from '../tasks/task-type.enum';
import { ScheduleMissedPolicy, ScheduleOverlapPolicy } from './schedule-limits';
import { ScheduleBody, validateSchedulePatch, validateScheduleRequest } from './validate-schedule';

const valid = {
  name: 'nightly-stats',
  cron: '0 2 * * *',
  task_name: TaskName.AnalyticsTaskStats,
};

const fieldsOf = (result: ReturnType<typeof validateScheduleRequest>) =>
  result.ok ? [] : [...new Set(result.errors.map((error) => error.field))].sort();

describe('validateScheduleRequest', () => {
  it('applies the defaults of the schedule and of its task', () => {
    const result = validateScheduleRequest(valid);
    expect(result).toEqual({
      ok: true,
      value: {
        name: 'nightly-stats',
        cron: '0 2 * * *',
        timezone: 'UTC',
        missed: ScheduleMissedPolicy.FireOnce,
        overlap: ScheduleOverlapPolicy.Allow,
        enabled: true,
        task: expect.objectContaining({
          task_name: TaskName.AnalyticsTaskStats,
          task_type: TaskType.Analytics,
          params: {},
          priority: 5,
          max_retries: 3,
        }),
      },
    });
  });

  it('reports every bad field at once: schedule and task alike', () => {
    const result = validateScheduleRequest({
      name: '-bad name',
      cron: '0 25 * * *',
      missed: 'sometimes',
      overlap: 'queue',
      enabled: 'yes',
      task_name: TaskName.EmailSend,
      params: { to: 'not an address' },
      priority: 11,
    });
    expect(fieldsOf(result)).toEqual(expect.arrayContaining(['enabled', 'missed', 'name', 'overlap', 'priority']));
    expect(fieldsOf(result).some((field) => field.startsWith('params'))).toBe(true);
  });

  it('takes overlap skip or allow', () => {
    const skip = validateScheduleRequest({ ...valid, overlap: 'skip' });
    expect(skip.ok && skip.value.overlap).toBe(ScheduleOverlapPolicy.Skip);
    expect(fieldsOf(validateScheduleRequest({ ...valid, overlap: 'SKIP' }))).toEqual(['overlap']);
  });

  it('names cron or timezone when the timing is wrong', () => {
    expect(fieldsOf(validateScheduleRequest({ ...valid, cron: '0 25 * * *' }))).toEqual(['cron']);
    expect(fieldsOf(validateScheduleRequest({ ...valid, timezone: 'Europe/Atlantis' }))).toEqual(['timezone']);
  });

  it('refuses run_at, delay_ms and idempotency_key: each tick has its own time', () => {
    const result = validateScheduleRequest({
      ...valid,
      run_at: '2027-01-01T00:00:00Z',
      delay_ms: 5,
      idempotency_key: 'k',
    });
    expect(fieldsOf(result)).toEqual(['delay_ms', 'idempotency_key', 'run_at']);
  });

  it('refuses unknown fields, a missing name or cron, and a body that is not an object', () => {
    expect(fieldsOf(validateScheduleRequest({ ...valid, colour: 'blue' }))).toEqual(['colour']);
    expect(fieldsOf(validateScheduleRequest({ task_name: TaskName.AnalyticsTaskStats }))).toEqual(['cron', 'name']);
    expect(fieldsOf(validateScheduleRequest([valid]))).toEqual(['(body)']);
  });

  it('refuses hostile JSON before reading it', () => {
    const result = validateScheduleRequest(JSON.parse('{"name":"x","cron":"* * * * *","__proto__":{"admin":true}}'));
    expect(result.ok).toBe(false);
  });
});

describe('validateSchedulePatch', () => {
  const current: ScheduleBody = {
    name: 'nightly-stats',
    cron: '0 2 * * *',
    timezone: 'UTC',
    missed: ScheduleMissedPolicy.FireOnce,
    overlap: ScheduleOverlapPolicy.Allow,
    enabled: true,
    task_name: TaskName.AnalyticsTaskStats,
    task_type: TaskType.Analytics,
    params: {},
    priority: 5,
    max_retries: 3,
    timeout_ms: 60_000,
  };

  it('changes only the fields given', () => {
    const result = validateSchedulePatch(current, { enabled: false, priority: 9 });
    expect(result.ok && result.value).toMatchObject({
      name: 'nightly-stats',
      cron: '0 2 * * *',
      enabled: false,
      task: { priority: 9, task_name: TaskName.AnalyticsTaskStats },
    });
  });

  it('validates the merged schedule as a whole, naming the bad field', () => {
    expect(fieldsOf(validateSchedulePatch(current, { cron: 'every day' }))).toEqual(['cron']);
    expect(fieldsOf(validateSchedulePatch(current, { run_at: '2027-01-01T00:00:00Z' }))).toEqual(['run_at']);
  });

  it('a new task name takes its own default type and timeout, and validates the params against it', () => {
    const result = validateSchedulePatch(
      { ...current, task_name: TaskName.CleanupPurgeTasks, task_type: TaskType.Cleanup, timeout_ms: 1_800_000 },
      { task_name: TaskName.AnalyticsTaskStats },
    );
    expect(result.ok && result.value.task).toMatchObject({
      task_name: TaskName.AnalyticsTaskStats,
      task_type: TaskType.Analytics,
      timeout_ms: taskDefinition(TaskName.AnalyticsTaskStats).defaultTimeoutMs,
    });
    const wrongParams = validateSchedulePatch(
      {
        ...current,
        task_name: TaskName.CleanupPurgeTasks,
        task_type: TaskType.Cleanup,
        params: { older_than_days: 7 },
      },
      { task_name: TaskName.AnalyticsTaskStats },
    );
    expect(fieldsOf(wrongParams)).toEqual(['params.older_than_days']);
  });

  it('refuses an empty patch or one that is not an object', () => {
    expect(fieldsOf(validateSchedulePatch(current, {}))).toEqual(['(body)']);
    expect(fieldsOf(validateSchedulePatch(current, 'pause'))).toEqual(['(body)']);
  });
});
