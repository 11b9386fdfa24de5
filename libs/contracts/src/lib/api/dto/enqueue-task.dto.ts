import { IsEnum, IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { TaskRetries, TaskPriority, TaskTimeout } from '../../tasks/task-limits';
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
}
