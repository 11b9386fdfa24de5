import { Type } from 'class-transformer';
import { IsEnum, IsInt, IsOptional, Max, Min } from 'class-validator';
import { TaskListLimit } from '../../tasks/task-limits';
import { TaskStatus } from '../../tasks/task-status.enum';
import { TaskType } from '../../tasks/task-type.enum';

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
}
