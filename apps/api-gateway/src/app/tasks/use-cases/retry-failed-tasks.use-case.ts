import { ConflictException, Inject, Injectable, Logger } from '@nestjs/common';
import { RetryFailedResult, TaskResource, TaskStatus } from '@tasklane/contracts';
import { TaskListFilter, TaskQueryRepository } from '@tasklane/persistence';
import { RetryTask } from './retry-task.use-case';

/**
 * POST /api/tasks/retry-failed: re-queues the failed tasks matching a filter (newest first, up to
 * `limit`), each exactly like POST /{id}/retry — its run archived, a new run pending, a `retried`
 * event naming the caller. A task that stopped being failed meanwhile (another retry won) is
 * skipped, not an error.
 */
@Injectable()
export class RetryFailedTasks {
  private readonly logger = new Logger(RetryFailedTasks.name);

  constructor(
    @Inject(TaskQueryRepository) private readonly queries: Pick<TaskQueryRepository, 'list'>,
    @Inject(RetryTask) private readonly retryTask: RetryTask,
  ) {}

  async execute(filter: TaskListFilter, limit: number, actor: string): Promise<RetryFailedResult> {
    const page = await this.queries.list({ ...filter, status: TaskStatus.Failed }, { limit, offset: 0 });
    const retried: TaskResource[] = [];
    for (const row of page.rows) {
      const task = await this.retryTask.execute(row.taskId, actor).catch((error: unknown) => {
        if (error instanceof ConflictException) {
          return null;
        }
        throw error;
      });
      if (task !== null) {
        retried.push(task);
      }
    }
    this.logger.log({ message: 'failed tasks re-queued (bulk)', count: retried.length, actor });
    return { retried, more: page.next !== null };
  }
}
