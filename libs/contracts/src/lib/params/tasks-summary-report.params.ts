import { IsEnum, IsOptional } from 'class-validator';
import { IsIsoTimestamp } from '../validation/is-iso-timestamp';
import { TaskType } from '../tasks/task-type.enum';

export enum ReportFormat {
  Csv = 'csv',
  Json = 'json',
}

/** One row per task created in [from, to): a summary of what ran, for how long, and how it ended. */
export class TasksSummaryReportParams {
  /** Start of the window (inclusive, ISO-8601). Defaults to 24 hours before `to`. */
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  /** End of the window (exclusive, ISO-8601). Defaults to now. */
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @IsOptional()
  @IsEnum(TaskType)
  task_type?: TaskType;

  @IsOptional()
  @IsEnum(ReportFormat)
  format?: ReportFormat;
}

export interface TasksSummaryReportResult {
  path: string;
  format: ReportFormat;
  size_bytes: number;
  row_count: number;
  from: string;
  to: string;
}
