import { TaskStatus } from '../../tasks/task-status.enum';
import { TaskType } from '../../tasks/task-type.enum';
import { TaskResource } from './task.resource';

/** Tasks of one type in one status (exact, from the counts of ADR 0009). */
export interface TaskCountCell {
  task_type: TaskType;
  status: TaskStatus;
  count: number;
}

/** A task queue as the broker reports it; nulls while the gateway has no broker connection. */
export interface QueueDepthResource {
  task_type: TaskType;
  queue: string;
  /** Messages ready to be delivered (not counting those delivered and not yet acknowledged). */
  ready: number | null;
  consumers: number | null;
}

/** Tasks that finished during one interval (from the change in the counts). */
export interface ThroughputSample {
  /** End of the interval, ISO-8601 UTC. */
  at: string;
  completed: number;
  failed: number;
}

/** Answer of `GET /api/dashboard/summary`: what the dashboard's overview shows. */
export interface DashboardSummary {
  counts: TaskCountCell[];
  queues: QueueDepthResource[];
  /** Finished tasks per interval over the last minutes, oldest first (sampled by this gateway). */
  throughput: { interval_ms: number; samples: ThroughputSample[] };
}

/** What the caller's credentials allow. */
export enum CallerAccess {
  /** No API keys configured: everyone may do everything. */
  Open = 'open',
  ReadOnly = 'read-only',
  ReadWrite = 'read-write',
}

/** Answer of `GET /api/dashboard/caller`: who the key is (as histories name it) and what it may do. */
export interface CallerResource {
  access: CallerAccess;
  actor: string;
  /** Whether POST endpoints (enqueue, cancel, retry) accept this caller. */
  can_write: boolean;
}

/** Answer of `POST /api/tasks/retry-failed`: the failed tasks matching the filter, re-queued. */
export interface RetryFailedResult {
  retried: TaskResource[];
  /** Whether more failed tasks match than `limit` allowed to retry (ask again). */
  more: boolean;
}
