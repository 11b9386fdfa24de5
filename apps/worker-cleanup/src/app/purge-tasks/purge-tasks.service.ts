import { Inject, Injectable } from '@nestjs/common';
import { PurgeTasksParams, PurgeTasksResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext } from '@tasklane/worker-runtime';
import { TaskRetentionRepository } from '@tasklane/persistence';
import { CleanupWorkerEnv } from '../cleanup-worker.env';

export const DEFAULT_PURGE_BATCH_SIZE = 1_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes finished tasks whose `completed_at` is older than the retention period, one bounded
 * batch at a time (TaskRetentionRepository), so a large purge never holds long locks and stops
 * between batches when it is aborted.
 */
@Injectable()
export class PurgeTasksService {
  constructor(
    @Inject(TaskRetentionRepository) private readonly retention: Pick<TaskRetentionRepository, 'purgeBatch'>,
    @Inject(CleanupWorkerEnv) private readonly env: CleanupWorkerEnv,
  ) {}

  @HandlesTask(TaskName.CleanupPurgeTasks)
  async purge(
    params: PurgeTasksParams,
    { signal }: Pick<TaskContext, 'signal'>,
    now: Date = new Date(),
  ): Promise<PurgeTasksResult> {
    const days = params.older_than_days ?? this.env.CLEANUP_RETENTION_DAYS;
    const batchSize = params.batch_size ?? DEFAULT_PURGE_BATCH_SIZE;
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    let deleted = 0;
    let batches = 0;
    for (;;) {
      signal.throwIfAborted();
      const batch = await this.retention.purgeBatch(cutoff, batchSize);
      if (batch.selected === 0) {
        break;
      }
      deleted += batch.deleted;
      batches += 1;
      if (batch.selected < batchSize) {
        break;
      }
    }
    return { deleted, batches, cutoff: cutoff.toISOString() };
  }
}
