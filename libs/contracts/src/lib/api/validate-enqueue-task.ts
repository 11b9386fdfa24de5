import { TaskRetries, TaskPriority } from '../tasks/task-limits';
import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';
import { taskDefinition } from '../tasks/task-catalogue';
import { FieldError, Validated, isPlainObject, validateDto } from '../validation/validate-dto';
import { inspectJsonValue } from '../validation/json-safety';
import { validateTaskParams } from '../validation/validate-task-params';
import { EnqueueTaskDto } from './dto/enqueue-task.dto';
import { validateSchedule } from './task-schedule';

/** An enqueue request that passed every check, with defaults applied. */
export interface ValidEnqueueTask {
  task_name: TaskName;
  task_type: TaskType;
  params: Record<string, unknown>;
  priority: number;
  max_retries: number;
  timeout_ms: number;
  /** When it may start (from `run_at`, or `delay_ms` after validation); null: as soon as possible. */
  run_at: Date | null;
  /** The request's `delay_ms`, or null: the gateway counts it from the task's creation. */
  delay_ms: number | null;
  /** `run_at`/`delay_ms` as the request wrote them, canonical (see `TaskSchedule.canonical`), or null. */
  schedule: string | null;
  /** The request's `idempotency_key`, or null (the gateway may take it from the header instead). */
  idempotency_key: string | null;
}

/** Largest `params` accepted, serialized as JSON (UTF-8 bytes): 64 KiB. */
export const MAX_PARAMS_BYTES = 65_536;

/** A 400 naming `params` when the object serializes to more than {@link MAX_PARAMS_BYTES}. */
export function paramsSizeError(params: unknown): FieldError | undefined {
  if (!isPlainObject(params)) {
    return undefined;
  }
  const bytes = Buffer.byteLength(JSON.stringify(params), 'utf8');
  return bytes > MAX_PARAMS_BYTES
    ? { field: 'params', message: `params must be at most ${MAX_PARAMS_BYTES} bytes as JSON (got ${bytes})` }
    : undefined;
}

/**
 * Validates an enqueue request completely — shape, catalogue membership, type/name agreement
 * and the task's own params — and reports every bad field at once.
 */
export function validateEnqueueTask(body: unknown, now: Date = new Date()): Validated<ValidEnqueueTask> {
  // Hostile structure (prototype keys, unpaired surrogates, unsafe numbers, deep nesting) is
  // refused before any of it is copied into a DTO.
  const unsafe = inspectJsonValue(body);
  if (unsafe.length > 0) {
    return { ok: false, errors: unsafe };
  }
  const shape = validateDto(EnqueueTaskDto, body);
  const errors: FieldError[] = shape.ok ? [] : [...shape.errors];
  const badFields = new Set(errors.map((error) => error.field));
  const tooLarge = isPlainObject(body) && !badFields.has('params') ? paramsSizeError(body['params']) : undefined;
  if (tooLarge) {
    errors.push(tooLarge);
    badFields.add('params');
  }
  const dto = body as EnqueueTaskDto;

  let taskType: TaskType | undefined;
  if (!badFields.has('task_name') && !badFields.has('(body)')) {
    const definition = taskDefinition(dto.task_name);
    taskType = dto.task_type ?? definition.defaultType;
    if (!badFields.has('task_type')) {
      if (taskType === undefined) {
        errors.push({
          field: 'task_type',
          message: `task_type is required for ${dto.task_name}; one of: ${definition.types.join(', ')}`,
        });
      } else if (!definition.types.includes(taskType)) {
        errors.push({
          field: 'task_type',
          message: `task_type must be ${definition.types.join(' or ')} for ${dto.task_name}`,
        });
      }
    }
    if (!badFields.has('params')) {
      const params = validateTaskParams(dto.task_name, dto.params);
      if (!params.ok) {
        errors.push(...params.errors);
      }
    }
  }

  const schedule =
    badFields.has('(body)') || badFields.has('run_at') || badFields.has('delay_ms')
      ? undefined
      : validateSchedule(dto.run_at, dto.delay_ms, now);
  if (schedule && !schedule.ok) {
    errors.push(...schedule.errors);
  }

  if (errors.length > 0 || taskType === undefined || !schedule?.ok) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    value: {
      task_name: dto.task_name,
      task_type: taskType,
      params: dto.params ?? {},
      priority: dto.priority ?? TaskPriority.Default,
      max_retries: dto.max_retries ?? TaskRetries.Default,
      timeout_ms: dto.timeout_ms ?? taskDefinition(dto.task_name).defaultTimeoutMs,
      run_at: schedule.value.runAt,
      delay_ms: dto.delay_ms ?? null,
      schedule: schedule.value.canonical,
      idempotency_key: dto.idempotency_key ?? null,
    },
  };
}
