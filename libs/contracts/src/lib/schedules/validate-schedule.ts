import { FieldError, Validated, isPlainObject, validateDto } from '../validation/validate-dto';
import { inspectJsonValue } from '../validation/json-safety';
import { ValidEnqueueTask, validateEnqueueTask } from '../api/validate-enqueue-task';
import { ScheduleFieldsDto, SCHEDULE_FIELDS } from './dto/schedule.dto';
import { DEFAULT_SCHEDULE_TIMEZONE, ScheduleMissedPolicy, ScheduleOverlapPolicy } from './schedule-limits';
import { cronTimingErrors } from './cron-schedule';

/** The task a schedule enqueues at each tick: an enqueue request, without a time of its own. */
export type ScheduledTask = Pick<
  ValidEnqueueTask,
  'task_name' | 'task_type' | 'params' | 'priority' | 'max_retries' | 'timeout_ms'
>;

/** A schedule request that passed every check, with defaults applied. */
export interface ValidSchedule {
  name: string;
  cron: string;
  timezone: string;
  missed: ScheduleMissedPolicy;
  overlap: ScheduleOverlapPolicy;
  enabled: boolean;
  task: ScheduledTask;
}

/** A schedule as a complete request body (its task's fields inline): what a PATCH is merged into. */
export type ScheduleBody = Omit<ValidSchedule, 'task'> & ScheduledTask;

/** Enqueue fields that make no sense for a schedule: each tick enqueues at its own time, once. */
const NOT_IN_A_SCHEDULE = ['run_at', 'delay_ms', 'idempotency_key'] as const;

const SCHEDULE_FIELD_SET: ReadonlySet<string> = new Set(SCHEDULE_FIELDS);

/**
 * Validates `POST /api/schedules`: the schedule's fields (name, cron, timezone, missed, overlap, enabled)
 * and, in the same body, the task each tick enqueues — validated exactly like an enqueue
 * (catalogue, params DTO, priority, retries, timeout). Every bad field is reported at once.
 */
export function validateScheduleRequest(body: unknown): Validated<ValidSchedule> {
  const unsafe = inspectJsonValue(body);
  if (unsafe.length > 0) {
    return { ok: false, errors: unsafe };
  }
  if (!isPlainObject(body)) {
    return { ok: false, errors: [{ field: '(body)', message: 'body must be a JSON object' }] };
  }
  const scheduleFields: Record<string, unknown> = {};
  const taskFields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    (SCHEDULE_FIELD_SET.has(key) ? scheduleFields : taskFields)[key] = value;
  }
  const errors: FieldError[] = [];
  for (const field of NOT_IN_A_SCHEDULE) {
    if (field in taskFields) {
      errors.push({ field, message: `${field} is not allowed in a schedule: each tick enqueues its task at its time` });
      delete taskFields[field];
    }
  }
  const schedule = validateDto(ScheduleFieldsDto, scheduleFields);
  if (!schedule.ok) {
    errors.push(...schedule.errors);
  } else {
    errors.push(
      ...cronTimingErrors({
        cron: schedule.value.cron,
        timezone: schedule.value.timezone ?? DEFAULT_SCHEDULE_TIMEZONE,
      }),
    );
  }
  const task = validateEnqueueTask(taskFields);
  if (!task.ok) {
    errors.push(...task.errors);
  }
  if (errors.length > 0 || !schedule.ok || !task.ok) {
    return { ok: false, errors };
  }
  const { task_name, task_type, params, priority, max_retries, timeout_ms } = task.value;
  return {
    ok: true,
    value: {
      name: schedule.value.name,
      cron: schedule.value.cron.trim(),
      timezone: schedule.value.timezone ?? DEFAULT_SCHEDULE_TIMEZONE,
      missed: schedule.value.missed ?? ScheduleMissedPolicy.FireOnce,
      overlap: schedule.value.overlap ?? ScheduleOverlapPolicy.Allow,
      enabled: schedule.value.enabled ?? true,
      task: { task_name, task_type, params, priority, max_retries, timeout_ms },
    },
  };
}

/**
 * Validates `PATCH /api/schedules/{id}`: a non-empty object of fields of the create body, merged
 * over the schedule as it is (`params` replaces the params whole), then validated as a whole.
 */
export function validateSchedulePatch(current: ScheduleBody, patch: unknown): Validated<ValidSchedule> {
  const unsafe = inspectJsonValue(patch);
  if (unsafe.length > 0) {
    return { ok: false, errors: unsafe };
  }
  if (!isPlainObject(patch) || Object.keys(patch).length === 0) {
    return {
      ok: false,
      errors: [{ field: '(body)', message: 'body must be a JSON object with at least one field to change' }],
    };
  }
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    merged[key] = value;
  }
  if ('task_name' in patch && patch['task_name'] !== current.task_name) {
    // A new task brings its own defaults (type, timeout), not the old task's; its params must be
    // given again (they are validated against the new task's params).
    for (const field of ['task_type', 'timeout_ms'] as const) {
      if (!(field in patch)) {
        delete merged[field];
      }
    }
  }
  return validateScheduleRequest(merged);
}
