import { IsEnum, IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import {
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyLength,
  TaskDelay,
  TaskPriority,
  TaskRetries,
  TaskTimeout,
} from '../../tasks/task-limits';
import { TaskName } from '../../tasks/task-name.enum';
import { TaskType } from '../../tasks/task-type.enum';

/** Body of `POST /api/tasks/enqueue`. */
export class EnqueueTaskDto {
  @IsEnum(TaskName)
  task_name!: TaskName;

  /** Must match the catalogue's type for `task_name`; required only where the catalogue has no default. */
  @IsOptional()
  @IsEnum(TaskType)
  task_type?: TaskType;

  /** Validated against the params DTO of `task_name`. */
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @IsOptional()
  @IsInt()
  @Min(TaskPriority.Min)
  @Max(TaskPriority.Max)
  priority?: number;

  @IsOptional()
  @IsInt()
  @Min(TaskRetries.Min)
  @Max(TaskRetries.Max)
  max_retries?: number;

  /** How long one attempt may run; defaults to the task's catalogue timeout. */
  @IsOptional()
  @IsInt()
  @Min(TaskTimeout.MinMs)
  @Max(TaskTimeout.MaxMs)
  timeout_ms?: number;

  /**
   * When the task may start, ISO-8601 with a zone (`2026-12-24T18:00:00Z`, `…+01:00`): it stays
   * pending until then. A time already past means now. Not with `delay_ms`.
   */
  @IsOptional()
  @IsString()
  run_at?: string;

  /** Milliseconds from the request until the task may start (0 to 366 days). Not with `run_at`. */
  @IsOptional()
  @IsInt()
  @Min(TaskDelay.MinMs)
  @Max(TaskDelay.MaxMs)
  delay_ms?: number;

  /**
   * Makes the enqueue idempotent (like the `Idempotency-Key` header): the same key again, within
   * the retention window, returns the task the first request created instead of a new one.
   */
  @IsOptional()
  @IsString()
  @Length(IdempotencyKeyLength.Min, IdempotencyKeyLength.Max)
  @Matches(IDEMPOTENCY_KEY_PATTERN, { message: 'idempotency_key must be visible ASCII characters without spaces' })
  idempotency_key?: string;
}
