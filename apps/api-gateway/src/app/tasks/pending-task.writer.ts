import { Inject, Injectable } from '@nestjs/common';
import { Batcher } from '@tasklane/concurrency';
import { DatabaseUnavailableError, NewTask, TaskOutboxRepository } from '@tasklane/persistence';

type PendingTaskStore = Pick<TaskOutboxRepository, 'insertPending' | 'insertPendingBatch'>;

/**
 * Commits the rows of concurrent single enqueues together: while two INSERTs are on their way,
 * the next enqueues gather and go as one multi-row INSERT (one statement, atomic). Each caller's
 * promise settles when its row is committed, so a 201 still means "committed". A group the
 * database refuses for a reason other than its availability is retried row by row, so that one
 * bad row never fails the others; while the database is unavailable, every enqueue of the group
 * fails (→ 503).
 */
@Injectable()
export class PendingTaskWriter {
  private readonly batcher: Batcher<NewTask, NewTask>;

  constructor(@Inject(TaskOutboxRepository) private readonly tasks: PendingTaskStore) {
    this.batcher = new Batcher((group) => this.writeGroup(group), { maxInFlight: 2, maxSize: 256, maxWaitMs: 0 });
  }

  insert(task: NewTask): Promise<NewTask> {
    return this.batcher.add(task);
  }

  private async writeGroup(group: NewTask[]): Promise<Array<NewTask | Promise<NewTask>>> {
    if (group.length === 1) {
      return [await this.tasks.insertPending(group[0])];
    }
    try {
      return await this.tasks.insertPendingBatch(group);
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) {
        throw error;
      }
    }
    // Row by row: each caller gets its own row's answer, the refused one its own error.
    const rows: Array<Promise<NewTask>> = [];
    for (const task of group) {
      const inserted = this.tasks.insertPending(task);
      rows.push(inserted);
      await inserted.catch(() => undefined);
    }
    return rows;
  }
}
