import { Inject, Injectable } from '@nestjs/common';
import { TaskResource, isTerminalStatus } from '@tasklane/contracts';
import { TaskWaiters } from '../waiting/task-waiters';
import { TaskQueries } from './task-queries.service';

/**
 * `GET /api/tasks/{id}?wait=N`: the task once it has finished, or as it is after N seconds. The
 * wait itself reads nothing per client ({@link TaskWaiters} looks for every waiting client at
 * once); the task is read when the request comes and once more when the wait ends.
 */
@Injectable()
export class WaitForTask {
  constructor(
    @Inject(TaskQueries) private readonly queries: Pick<TaskQueries, 'get'>,
    @Inject(TaskWaiters) private readonly waiters: Pick<TaskWaiters, 'wait'>,
  ) {}

  async execute(taskId: string, waitMs: number, clientGone: AbortSignal): Promise<TaskResource> {
    const task = await this.queries.get(taskId);
    if (waitMs <= 0 || isTerminalStatus(task.status)) {
      return task;
    }
    await this.waiters.wait(taskId, waitMs, clientGone);
    // A client that left gets nothing; no need to read for it.
    return clientGone.aborted ? task : this.queries.get(taskId);
  }
}
