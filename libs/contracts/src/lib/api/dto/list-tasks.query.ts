import { Type } from 'class-transformer';
import {
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidationArguments,
} from 'class-validator';
import { TaskEventListLimit, TaskListLimit } from '../../tasks/task-limits';
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

/** Query of `GET /api/tasks/`. */
export class ListTasksQuery extends CountTasksQuery {
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
