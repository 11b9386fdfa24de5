import { ConflictException, Inject, Injectable, Logger } from '@nestjs/common';
import { TaskResource } from '@tasklane/contracts';
import { TaskControlRepository } from '@tasklane/persistence';
import { TaskDispatcher } from './task-dispatcher';
import { TaskQueries } from './task-queries.service';

/**
 * POST /api/tasks/{id}/retry: re-queues a failed or cancelled task as a new run (same task_id and
 * retry_count; the run as it ended is kept in its history). 409 for any other status.
 */
@Injectable()
export class RetryTask {
  private readonly logger = new Logger(RetryTask.name);

  constructor(
    @Inject(TaskControlRepository) private readonly control: Pick<TaskControlRepository, 'requeueFinished'>,
    @Inject(TaskQueries) private readonly queries: TaskQueries,
    @Inject(TaskDispatcher) private readonly dispatcher: TaskDispatcher,
  ) {}

  async execute(taskId: string, actor: string): Promise<TaskResource> {
    this.dispatcher.requireBroker('the task was not re-queued');
    const command = await this.control.requeueFinished(taskId, new Date(), { actor });
    if (command === null) {
      const task = await this.queries.get(taskId);
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Task ${taskId} is ${task.status}; only failed or cancelled tasks can be retried`,
        status: task.status,
      });
    }
    // Read before the dispatch: once published, a worker may claim it at once, and the answer is
    // the task as re-queued (pending), like enqueue's.
    const task = await this.queries.get(taskId);
    await this.dispatcher.dispatch(command);
    this.logger.log({ message: 'task re-queued', task_id: taskId, task_name: task.task_name, run: task.run, actor });
    return task;
  }
}
