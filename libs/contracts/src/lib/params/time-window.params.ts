import { IsEnum, IsOptional } from 'class-validator';
import { TaskType } from '../tasks/task-type.enum';
import { IsIsoTimestamp } from '../validation/is-iso-timestamp';

/** Params of tasks that look at the tasks created in [from, to), optionally of one type. */
export class TimeWindowParams {
  /** Start of the window (inclusive, ISO-8601 with a zone). Defaults to 24 hours before `to`. */
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  /** End of the window (exclusive, ISO-8601 with a zone). Defaults to now. */
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @IsOptional()
  @IsEnum(TaskType)
  task_type?: TaskType;
}
