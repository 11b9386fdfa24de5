import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PurgeTasksParams, PurgeTasksResult, TERMINAL_STATUSES } from '@tasklane/contracts';
import { CleanupWorkerEnv } from '../cleanup-worker.env';

export const DEFAULT_PURGE_BATCH_SIZE = 1_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes finished tasks whose `completed_at` is older than the retention period, one bounded
 * batch per statement (select ids by primary key, then delete them), so a large purge never
 * holds long locks and can stop between batches.
 */
@Injectable()
export class PurgeTasksService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(CleanupWorkerEnv) private readonly env: CleanupWorkerEnv,
  ) {}

  async purge(params: PurgeTasksParams, signal: AbortSignal, now: Date = new Date()): Promise<PurgeTasksResult> {
    const days = params.older_than_days ?? this.env.CLEANUP_RETENTION_DAYS;
    const batchSize = params.batch_size ?? DEFAULT_PURGE_BATCH_SIZE;
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    const finished = TERMINAL_STATUSES.map(() => '?').join(', ');
    let deleted = 0;
    let batches = 0;
    for (;;) {
      signal.throwIfAborted();
      const ids = (
        (await this.dataSource.query(
          `SELECT id FROM background_tasks WHERE status IN (${finished}) AND completed_at < ?
            ORDER BY id LIMIT ${batchSize}`,
          [...TERMINAL_STATUSES, cutoff],
        )) as Array<{ id: number }>
      ).map((row) => row.id);
      if (ids.length === 0) {
        break;
      }
      const result = (await this.dataSource.query(
        `DELETE FROM background_tasks WHERE id IN (${ids.map(() => '?').join(', ')}) AND status IN (${finished})`,
        [...ids, ...TERMINAL_STATUSES],
      )) as { affectedRows: number };
      deleted += result.affectedRows;
      batches += 1;
      if (ids.length < batchSize) {
        break;
      }
    }
    return { deleted, batches, cutoff: cutoff.toISOString() };
  }
}
