import { FailParams, FailResult, SleepParams, SleepResult } from '../params/diagnostic.params';
import { PurgeTasksParams, PurgeTasksResult } from '../params/purge-tasks.params';
import { SendEmailParams, SendEmailResult } from '../params/send-email.params';
import { TaskStatsParams, TaskStatsResult } from '../params/task-stats.params';
import { TasksSummaryReportParams, TasksSummaryReportResult } from '../params/tasks-summary-report.params';
import { TaskName } from './task-name.enum';
import { TASK_TYPES, TaskType } from './task-type.enum';

interface TaskSpec<TParams extends object, TResult> {
  params: TParams;
  result: TResult;
}

/** The typed contract of every task: `TaskCatalogue[name]` gives its params and its result. */
export interface TaskCatalogue {
  [TaskName.EmailSend]: TaskSpec<SendEmailParams, SendEmailResult>;
  [TaskName.ReportTasksSummary]: TaskSpec<TasksSummaryReportParams, TasksSummaryReportResult>;
  [TaskName.AnalyticsTaskStats]: TaskSpec<TaskStatsParams, TaskStatsResult>;
  [TaskName.CleanupPurgeTasks]: TaskSpec<PurgeTasksParams, PurgeTasksResult>;
  [TaskName.DiagnosticSleep]: TaskSpec<SleepParams, SleepResult>;
  [TaskName.DiagnosticFail]: TaskSpec<FailParams, FailResult>;
}

export type TaskParamsOf<N extends TaskName> = TaskCatalogue[N]['params'];
export type TaskResultOf<N extends TaskName> = TaskCatalogue[N]['result'];

export interface TaskDefinition<N extends TaskName = TaskName> {
  readonly name: N;
  readonly description: string;
  /** The task types (and so the queues and workers) that may run this task. */
  readonly types: readonly TaskType[];
  /** The type used when a request gives none; when absent, `task_type` is required. */
  readonly defaultType?: TaskType;
  /** The DTO its params are validated against, at the gateway and again in the worker. */
  readonly paramsClass: new () => TaskParamsOf<N>;
  /** How long one attempt may run before it is aborted and fails (a request may set `timeout_ms`). */
  readonly defaultTimeoutMs: number;
}

type Catalogue = { readonly [N in TaskName]: TaskDefinition<N> };

export const TASK_CATALOGUE: Catalogue = {
  [TaskName.EmailSend]: {
    name: TaskName.EmailSend,
    description: 'Sends an email over SMTP (or writes it to the outbox folder).',
    types: [TaskType.Email],
    defaultType: TaskType.Email,
    paramsClass: SendEmailParams,
    defaultTimeoutMs: 60_000,
  },
  [TaskName.ReportTasksSummary]: {
    name: TaskName.ReportTasksSummary,
    description: 'Writes a CSV or JSON file listing the tasks created in a time window.',
    types: [TaskType.Report],
    defaultType: TaskType.Report,
    paramsClass: TasksSummaryReportParams,
    defaultTimeoutMs: 600_000,
  },
  [TaskName.AnalyticsTaskStats]: {
    name: TaskName.AnalyticsTaskStats,
    description: 'Counts, failure rate and run-time percentiles per task type.',
    types: [TaskType.Analytics],
    defaultType: TaskType.Analytics,
    paramsClass: TaskStatsParams,
    defaultTimeoutMs: 300_000,
  },
  [TaskName.CleanupPurgeTasks]: {
    name: TaskName.CleanupPurgeTasks,
    description: 'Deletes finished tasks older than the retention period, in bounded batches.',
    types: [TaskType.Cleanup],
    defaultType: TaskType.Cleanup,
    paramsClass: PurgeTasksParams,
    defaultTimeoutMs: 1_800_000,
  },
  [TaskName.DiagnosticSleep]: {
    name: TaskName.DiagnosticSleep,
    description: 'Diagnostic: sleeps for params.ms milliseconds, then returns.',
    types: TASK_TYPES,
    paramsClass: SleepParams,
    defaultTimeoutMs: 3_600_000,
  },
  [TaskName.DiagnosticFail]: {
    name: TaskName.DiagnosticFail,
    description: 'Diagnostic: always throws params.message.',
    types: TASK_TYPES,
    paramsClass: FailParams,
    defaultTimeoutMs: 60_000,
  },
};

export function taskDefinition<N extends TaskName>(name: N): TaskDefinition<N> {
  return TASK_CATALOGUE[name] as TaskDefinition<N>;
}

export function isTaskName(value: unknown): value is TaskName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(TASK_CATALOGUE, value);
}

/** The task names a worker of `type` must handle. */
export function taskNamesForType(type: TaskType): TaskName[] {
  return Object.values(TASK_CATALOGUE)
    .filter((definition) => definition.types.includes(type))
    .map((definition) => definition.name);
}
