import { Type } from 'class-transformer';
import {
  Equals,
  IsEnum,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidationArguments,
} from 'class-validator';
import { TaskEventListLimit, TaskListLimit, TaskPriority, TaskSearchLength, TaskWait } from '../../tasks/task-limits';
import { TaskName } from '../../tasks/task-name.enum';
import { IsIsoTimestamp } from '../../validation/is-iso-timestamp';
import { TaskStatus } from '../../tasks/task-status.enum';
import { TaskType } from '../../tasks/task-type.enum';
import { TASK_CURSOR_PATTERN, decodeTaskCursor } from '../task-cursor';

/** Query of `GET /api/tasks/count/all`. */
export class CountTasksQuery {
  @IsOptional()
  @IsEnum(TaskStatus)
  status?: TaskStatus;

  @IsOptional()
  @IsEnum(TaskType)
  task_type?: TaskType;
}

/**
 * What narrows a list beyond status and type (the dashboard's filters, `POST /retry-failed`). With
 * any of them a list is not counted (`total` null): the counts know statuses and types only.
 */
export class TaskSearchFilter extends CountTasksQuery {
  @IsOptional()
  @IsEnum(TaskName)
  task_name?: TaskName;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(TaskPriority.Min)
  @Max(TaskPriority.Max)
  priority?: number;

  /** Created at or after this time (ISO-8601 with a zone). */
  @IsOptional()
  @IsIsoTimestamp()
  created_after?: string;

  /** Created before this time (ISO-8601 with a zone). */
  @IsOptional()
  @IsIsoTimestamp()
  created_before?: string;

  /** Text to find in the task's `params` or `result` (their JSON, case-insensitive): a scan, so narrow it with a time window. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(TaskSearchLength.Max)
  q?: string;
}

/** Query of `GET /api/tasks/`. */
export class ListTasksQuery extends TaskSearchFilter {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(TaskListLimit.Min)
  @Max(TaskListLimit.Max)
  limit?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;

  /**
   * Keyset pagination: the `next_cursor` of the previous page (opaque). The page then starts right
   * after that page's last task, however many tasks were added meanwhile. Not with a non-zero `offset`.
   */
  @IsOptional()
  @IsString()
  @Matches(TASK_CURSOR_PATTERN, { message: '$property must be a next_cursor given by this API' })
  @ValidateBy({
    name: 'isTaskCursor',
    validator: {
      // Only what the pattern lets through: a value it refuses already has its error.
      validate: (value: unknown) =>
        typeof value !== 'string' || !TASK_CURSOR_PATTERN.test(value) || decodeTaskCursor(value) !== null,
      defaultMessage: () => 'cursor must be a next_cursor given by this API',
    },
  })
  @ValidateBy({
    name: 'cursorWithoutOffset',
    validator: {
      validate: (_value: unknown, args?: ValidationArguments) => {
        const offset = (args?.object as ListTasksQuery | undefined)?.offset;
        return typeof offset !== 'number' || offset === 0 || Number.isNaN(offset);
      },
      defaultMessage: () =>
        'cursor cannot be combined with a non-zero offset: the cursor already says where the page starts',
    },
  })
  cursor?: string;
}

/** A position in a task's history: the `event_id` of an event (a positive integer, as a string). */
export const TASK_EVENT_CURSOR_PATTERN = /^[1-9][0-9]{0,18}$/;

/** Query of `GET /api/tasks/{id}/events`. */
export class ListTaskEventsQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(TaskEventListLimit.Min)
  @Max(TaskEventListLimit.Max)
  limit?: number;

  /** The `next_cursor` of the previous page: the page starts right after that event. */
  @IsOptional()
  @IsString()
  @Matches(TASK_EVENT_CURSOR_PATTERN, { message: '$property must be a next_cursor given by this API' })
  cursor?: string;
}

/** Body of `POST /api/tasks/retry-failed`: re-queue the failed tasks matching a filter, newest first. */
export class RetryFailedTasksRequest extends TaskSearchFilter {
  /** Only failed tasks are retried: `status`, if given, must say so. */
  @IsOptional()
  @Equals(TaskStatus.Failed, { message: 'status must be failed (only failed tasks are retried)' })
  override status?: TaskStatus;

  @IsOptional()
  @IsInt()
  @Min(TaskListLimit.Min)
  @Max(TaskListLimit.Max)
  limit?: number;
}

/** Query of `GET /api/tasks/{task_id}`. */
export class GetTaskQuery {
  /**
   * Seconds to wait for the task to finish (completed, failed, cancelled) before answering: the
   * answer comes as soon as it does, or with the task as it is once the time is up. 0: at once.
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(TaskWait.MinSeconds)
  @Max(TaskWait.MaxSeconds)
  wait?: number;
}
