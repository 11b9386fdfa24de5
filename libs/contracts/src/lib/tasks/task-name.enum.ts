/**
 * Every task name Tasklane knows. A name maps to exactly one params DTO and one result type
 * (see {@link TaskCatalogue}) and is handled by exactly one handler in the worker of its type.
 */
export enum TaskName {
  EmailSend = 'email.send',
  ReportTasksSummary = 'report.tasks_summary',
  AnalyticsTaskStats = 'analytics.task_stats',
  CleanupPurgeTasks = 'cleanup.purge_tasks',
  /** Diagnostic: sleeps for `params.ms` milliseconds. Runs on any task type. */
  DiagnosticSleep = 'diagnostic.sleep',
  /** Diagnostic: always throws `params.message`. Runs on any task type. */
  DiagnosticFail = 'diagnostic.fail',
}

export const TASK_NAMES: readonly TaskName[] = Object.values(TaskName);
