import { IsEnum, IsOptional } from 'class-validator';
import { TimeWindowParams } from './time-window.params';

export enum ReportFormat {
  Csv = 'csv',
  Json = 'json',
}

/** One row per task created in [from, to): a summary of what ran, for how long, and how it ended. */
export class TasksSummaryReportParams extends TimeWindowParams {
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
