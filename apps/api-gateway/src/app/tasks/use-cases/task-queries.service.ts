import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { TaskCount, TaskPage, TaskResource, TaskRunResource } from '@tasklane/contracts';
import { TaskCountRepository, TaskFilter, TaskPageRequest, TaskQueryRepository } from '@tasklane/persistence';

/** The read side of the tasks API: a task, a page of tasks, a count, a task's earlier runs. */
@Injectable()
export class TaskQueries {
  constructor(
    @Inject(TaskQueryRepository) private readonly queries: TaskQueryRepository,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
  ) {}

  /** The task, or a 404 naming it. */
  async get(taskId: string): Promise<TaskResource> {
    const task = await this.queries.findByTaskId(taskId);
    if (task === null) {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `Task ${taskId} not found` });
    }
    return task;
  }

  list(filter: TaskFilter, page: TaskPageRequest): Promise<TaskPage> {
    return this.queries.list(filter, page);
  }

  async count(filter: TaskFilter): Promise<TaskCount> {
    return { count: await this.counts.count(filter) };
  }

  /** The earlier runs of a task (archived by retry), oldest first; 404 for an unknown task. */
  async runs(taskId: string): Promise<TaskRunResource[]> {
    await this.get(taskId);
    return this.queries.listRuns(taskId);
  }
}
