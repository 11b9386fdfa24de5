import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { TaskCount, TaskEventPage, TaskPage, TaskResource, TaskRunResource } from '@tasklane/contracts';
import {
  TaskCountRepository,
  TaskFilter,
  TaskHistoryRepository,
  TaskListFilter,
  TaskQueryRepository,
} from '@tasklane/persistence';
import { decodeListCursor } from '../task-cursor';
import { toTaskEventPage, toTaskPage, toTaskResource, toTaskRunResource } from '../task-resource.mapper';

function taskNotFound(taskId: string): NotFoundException {
  return new NotFoundException({ statusCode: 404, error: 'Not Found', message: `Task ${taskId} not found` });
}

/** Which page of GET /api/tasks: `limit` tasks, after `cursor` (a `next_cursor`) or from `offset` on. */
export interface TaskListRequest {
  limit: number;
  offset: number;
  cursor?: string;
}

/** The read side of the tasks API: a task, a page of tasks, a count, a task's earlier runs and its history. */
@Injectable()
export class TaskQueries {
  constructor(
    @Inject(TaskQueryRepository) private readonly queries: TaskQueryRepository,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
    @Inject(TaskHistoryRepository) private readonly history: TaskHistoryRepository,
  ) {}

  /** The task, or a 404 naming it. */
  async get(taskId: string): Promise<TaskResource> {
    const row = await this.queries.findByTaskId(taskId);
    if (row === null) {
      throw taskNotFound(taskId);
    }
    return toTaskResource(row);
  }

  /** Several tasks by id, in one read (by 1,000); a 404 naming the first that does not exist. */
  async getMany(taskIds: readonly string[]): Promise<Map<string, TaskResource>> {
    const unique = [...new Set(taskIds)];
    const found = new Map((await this.queries.findByTaskIds(unique)).map((row) => [row.taskId, toTaskResource(row)]));
    const missing = unique.find((taskId) => !found.has(taskId));
    if (missing !== undefined) {
      throw taskNotFound(missing);
    }
    return found;
  }

  /** A page of tasks; a 400 for a `cursor` this API did not give out. */
  async list(filter: TaskListFilter, page: TaskListRequest): Promise<TaskPage> {
    const after = page.cursor === undefined ? undefined : decodeListCursor(page.cursor);
    const rows = await this.queries.list(filter, { limit: page.limit, offset: page.offset, after });
    return toTaskPage(rows, page);
  }

  async count(filter: TaskFilter): Promise<TaskCount> {
    return { count: await this.counts.count(filter) };
  }

  /** The earlier runs of a task (archived by retry), oldest first; 404 for an unknown task. */
  async runs(taskId: string): Promise<TaskRunResource[]> {
    await this.get(taskId);
    return (await this.queries.listRuns(taskId)).map(toTaskRunResource);
  }

  /**
   * A page of a task's history, oldest first, after the event `cursor`; 404 for an unknown task.
   * Every task has its `enqueued` event, so only an empty page needs the task looked up.
   */
  async events(taskId: string, page: { limit: number; cursor?: string }): Promise<TaskEventPage> {
    const events = await this.history.page(taskId, page.limit, page.cursor);
    if (events.events.length === 0) {
      await this.get(taskId);
    }
    return toTaskEventPage(events);
  }
}
