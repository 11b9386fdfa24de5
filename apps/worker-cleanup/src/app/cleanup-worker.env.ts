import { Expose } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { WorkerEnv } from '@tasklane/worker-runtime';

export class CleanupWorkerEnv extends WorkerEnv {
  /** Finished tasks older than this many days are purged when a task gives no `older_than_days`. */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(3650)
  readonly CLEANUP_RETENTION_DAYS: number = 30;
}
