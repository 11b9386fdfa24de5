import { Counter, Histogram, Registry } from 'prom-client';

/** Buckets for task run times: 5 ms to 1 hour. */
const DURATION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Buckets for the tracker's event lag: 1 ms to 5 minutes. */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300];
/** Buckets for HTTP latency: 1 ms to 10 s. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export type TaskOutcomeLabel = 'succeeded' | 'retried' | 'failed' | 'given_up';

/**
 * Every Tasklane metric, defined once. Labels stay bounded: task types, task names from the
 * catalogue, outcomes, event types, HTTP routes — never task ids. Each app feeds the ones it
 * owns; a metric appears once it is first used.
 */
export class TaskMetrics {
  private readonly created = new Map<string, unknown>();

  constructor(readonly registry: Registry) {}

  get enqueued(): Counter<'task_type' | 'priority'> {
    return this.counter('tasklane_tasks_enqueued_total', 'Tasks accepted by the gateway (201).', [
      'task_type',
      'priority',
    ]);
  }

  get cancelled(): Counter<'task_type'> {
    return this.counter('tasklane_tasks_cancelled_total', 'Tasks cancelled through the API.', ['task_type']);
  }

  get started(): Counter<'task_type'> {
    return this.counter('tasklane_tasks_started_total', 'Attempts claimed and started by workers.', ['task_type']);
  }

  get completed(): Counter<'task_type'> {
    return this.counter(
      'tasklane_tasks_completed_total',
      'Tasks whose handler succeeded (outcome confirmed by the broker).',
      ['task_type'],
    );
  }

  get failed(): Counter<'task_type'> {
    return this.counter(
      'tasklane_tasks_failed_total',
      'Tasks that failed for good (last retry, permanent error or poison message).',
      ['task_type'],
    );
  }

  get retried(): Counter<'task_type'> {
    return this.counter('tasklane_tasks_retried_total', 'Failed attempts sent back for a retry after a delay.', [
      'task_type',
    ]);
  }

  get duration(): Histogram<'task_type' | 'task_name' | 'outcome'> {
    return this.histogram(
      'tasklane_task_duration_seconds',
      'Handler run time per attempt.',
      ['task_type', 'task_name', 'outcome'],
      DURATION_BUCKETS,
    );
  }

  get eventsPersisted(): Counter<'event'> {
    return this.counter(
      'tasklane_events_persisted_total',
      'Lifecycle events written by the status tracker (applied or recognised as stale).',
      ['event'],
    );
  }

  get eventLag(): Histogram {
    return this.histogram(
      'tasklane_event_lag_seconds',
      'Time from an event happening to its commit in background_tasks.',
      [],
      LAG_BUCKETS,
    );
  }

  get outboxRelayed(): Counter {
    return this.counter(
      'tasklane_outbox_relayed_total',
      'Task commands the outbox relay (re)published because the broker never confirmed them.',
      [],
    );
  }

  get scheduledDispatched(): Counter {
    return this.counter(
      'tasklane_scheduled_tasks_dispatched_total',
      'Commands of tasks scheduled for later (run_at, delay_ms) published by the due relay once their time came.',
      [],
    );
  }

  get scheduleTicks(): Counter<'outcome'> {
    return this.counter(
      'tasklane_schedule_ticks_total',
      'Cron schedule ticks: fired — one per task a tick enqueued; skipped — once per schedule whose missed ticks ' +
        '(every tracker was down beyond SCHEDULE_MISFIRE_GRACE_MS) were passed over by its policy skip; ' +
        "overlapped — ticks that fired nothing because the previous tick's task had not finished (overlap skip).",
      ['outcome'],
    );
  }

  get tasksRedispatched(): Counter<'task_type' | 'reason'> {
    return this.counter(
      'tasklane_tasks_redispatched_total',
      'Commands of pending tasks published again because the broker had lost them (reason: queue_empty, overdue).',
      ['task_type', 'reason'],
    );
  }

  get tasksAged(): Counter<'task_type'> {
    return this.counter(
      'tasklane_tasks_aged_total',
      'Pending tasks below the top priority whose command was published again above every priority after waiting ' +
        'longer than TASK_AGING_AFTER_MS (aging, ADR 0015).',
      ['task_type'],
    );
  }

  get leasesReclaimed(): Counter {
    return this.counter(
      'tasklane_leases_reclaimed_total',
      'Running tasks handed back after their lease expired (their worker died or was cut off).',
      [],
    );
  }

  get httpDuration(): Histogram<'method' | 'route' | 'status_code'> {
    return this.histogram(
      'http_request_duration_seconds',
      'Gateway HTTP request duration.',
      ['method', 'route', 'status_code'],
      HTTP_BUCKETS,
    );
  }

  /** Metrics are registered on first use, so an app exports only the ones it feeds. */
  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return this.once(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  private histogram<L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> {
    return this.once(name, () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }));
  }

  private once<T>(name: string, create: () => T): T {
    if (!this.created.has(name)) {
      this.created.set(name, create());
    }
    return this.created.get(name) as T;
  }
}
