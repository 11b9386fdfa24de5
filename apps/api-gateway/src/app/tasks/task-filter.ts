import { TaskSearchFilter } from '@tasklane/contracts';
import { TaskListFilter } from '@tasklane/persistence';

/** The repository's filter of a validated list query (or retry-failed body). */
export function toListFilter(query: TaskSearchFilter): TaskListFilter {
  return {
    status: query.status,
    taskType: query.task_type,
    taskName: query.task_name,
    priority: query.priority,
    createdFrom: query.created_after === undefined ? undefined : new Date(query.created_after),
    createdBefore: query.created_before === undefined ? undefined : new Date(query.created_before),
    search: query.q,
  };
}
