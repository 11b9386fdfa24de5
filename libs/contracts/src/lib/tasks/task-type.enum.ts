/** The kinds of work Tasklane runs. Each type has its own queue and its own worker deployment. */
export enum TaskType {
  Email = 'email',
  Report = 'report',
  Analytics = 'analytics',
  Cleanup = 'cleanup',
}

export const TASK_TYPES: readonly TaskType[] = Object.values(TaskType);
