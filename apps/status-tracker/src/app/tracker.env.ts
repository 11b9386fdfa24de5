import { Expose } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { BaseEnv } from '@tasklane/config';

export class TrackerEnv extends BaseEnv {
  /** Events written per database transaction, at most. */
  @Expose()
  @IsInt()
  @Min(1)
  @Max(5_000)
  readonly TRACKER_BATCH_SIZE: number = 200;

  /** Longest wait for a batch to fill before it is written anyway. */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(10_000)
  readonly TRACKER_FLUSH_INTERVAL_MS: number = 20;

  /** How often the outbox relay looks for tasks whose command the broker never confirmed. */
  @Expose()
  @IsInt()
  @Min(50)
  @Max(600_000)
  readonly OUTBOX_RELAY_INTERVAL_MS: number = 1_000;

  /**
   * How often the due relay publishes the tasks scheduled for later (`run_at`, `delay_ms`) whose
   * time has come: a due task starts within about this long after its time (ADR 0012).
   */
  @Expose()
  @IsInt()
  @Min(20)
  @Max(60_000)
  readonly DUE_RELAY_INTERVAL_MS: number = 200;

  /** Age before the relay takes over a task the gateway has not recorded as published. */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  readonly OUTBOX_RELAY_MIN_AGE_MS: number = 5_000;

  /** How often the journal of count changes is folded into the task counts (ADR 0009). */
  @Expose()
  @IsInt()
  @Min(50)
  @Max(600_000)
  readonly COUNT_FOLD_INTERVAL_MS: number = 1_000;

  /** How often the reconciler looks for running tasks whose lease expired. */
  @Expose()
  @IsInt()
  @Min(50)
  @Max(600_000)
  readonly RECONCILE_INTERVAL_MS: number = 5_000;

  /** How long past its lease a running task is left before it is handed to another worker. */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  readonly LEASE_EXPIRY_GRACE_MS: number = 5_000;

  /** How often the re-dispatcher compares each task queue with the pending tasks of its type (ADR 0010). */
  @Expose()
  @IsInt()
  @Min(100)
  @Max(600_000)
  readonly REDISPATCH_INTERVAL_MS: number = 5_000;

  /**
   * A pending task whose command has been out (and due) this long while its queue holds no ready
   * message has lost its message: it is published again.
   */
  @Expose()
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  readonly REDISPATCH_EMPTY_QUEUE_AFTER_MS: number = 10_000;

  /**
   * A pending task whose command has been out (and due) this long is published again whatever its
   * queue holds, if the queue holds fewer ready messages than the type has pending tasks and has a
   * consumer. Set it above the longest wait a task may legitimately have in a backlog.
   */
  @Expose()
  @IsInt()
  @Min(10_000)
  @Max(604_800_000)
  readonly REDISPATCH_AFTER_MS: number = 900_000;

  /** How often this tracker reports itself alive, and up to when it has written what it received. */
  @Expose()
  @IsInt()
  @Min(100)
  @Max(60_000)
  readonly TRACKER_HEARTBEAT_INTERVAL_MS: number = 1_000;

  /**
   * A tracker that has not reported for this long is taken for dead (its unacknowledged events are
   * back in the queue by then): longer than RabbitMQ takes to notice a dead connection (two
   * missed 10 s heartbeats).
   */
  @Expose()
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  readonly TRACKER_REPLICA_TIMEOUT_MS: number = 30_000;

  /**
   * How often the scheduler looks for due cron ticks (ADR 0013). A tick up to twice this ahead is
   * enqueued now, due at its time, so the due relay publishes it on time.
   */
  @Expose()
  @IsInt()
  @Min(100)
  @Max(60_000)
  readonly SCHEDULER_INTERVAL_MS: number = 500;

  /**
   * A cron tick older than this when a scheduler first sees it was missed (every tracker was
   * down): its schedule's `missed` policy fires it once or skips it.
   */
  @Expose()
  @IsInt()
  @Min(1_000)
  @Max(86_400_000)
  readonly SCHEDULE_MISFIRE_GRACE_MS: number = 60_000;

  /**
   * Aging (ADR 0015): a pending task below priority 10 whose command has been out this long —
   * waiting behind higher priorities — is published again above every priority, so no flood of
   * higher priorities starves it. 0 turns aging off.
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  readonly TASK_AGING_AFTER_MS: number = 300_000;

  /** How often the aging pass looks for starved tasks: a task ages within about this long after the bound. */
  @Expose()
  @IsInt()
  @Min(50)
  @Max(600_000)
  readonly TASK_AGING_INTERVAL_MS: number = 1_000;
}
