import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Deletes finished (completed, failed, cancelled) tasks that finished before the retention period. */
export class PurgeTasksParams {
  /** Retention in days; defaults to the worker's `CLEANUP_RETENTION_DAYS`. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3650)
  older_than_days?: number;

  /** Rows deleted per statement, so that one purge never holds long locks. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  batch_size?: number;
}

export interface PurgeTasksResult {
  deleted: number;
  batches: number;
  cutoff: string;
}
