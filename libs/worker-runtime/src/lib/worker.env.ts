import { Expose } from 'class-transformer';
import { hostname } from 'node:os';
import { IsInt, IsNumber, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { BaseEnv } from '@tasklane/config';

/** Settings of every worker app; each worker extends this with its own. */
export class WorkerEnv extends BaseEnv {
  /**
   * Tasks run at once by one process. The queue prefetch equals it too: at most this many
   * further deliveries wait in the process for a free slot, so a backlog stays in the broker,
   * where priorities apply (a new high-priority task waits behind at most 2 × this).
   */
  @Expose()
  @IsInt()
  @Min(1)
  @Max(256)
  readonly WORKER_CONCURRENCY: number = 4;

  /**
   * Longest time a delivery waits in this process for a free slot before it is handed back to
   * the broker. Must stay below RabbitMQ's `consumer_timeout` (30 min by default), which would
   * otherwise close the channel.
   */
  @Expose()
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  readonly DELIVERY_MAX_WAIT_MS: number = 600_000;

  /**
   * How long a handler gets to stop after its AbortSignal fired (timeout, cancel, shutdown) before
   * the worker stops waiting for it and frees its slot; the attempt then fails (or, cancelled,
   * just ends).
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  readonly ABORT_GRACE_MS: number = 10_000;

  /** Delay before the first retry; later retries double it (with jitter). */
  @Expose()
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  readonly RETRY_BASE_DELAY_MS: number = 1_000;

  /** Longest delay between retries. */
  @Expose()
  @IsInt()
  @Min(10)
  @Max(86_400_000)
  readonly RETRY_MAX_DELAY_MS: number = 300_000;

  /**
   * How long a claim stays valid without a heartbeat. A worker renews it every fifth of this
   * while the task runs; when the worker dies the task is handed to another worker once the
   * lease has expired (plus the tracker's grace). Tasks may run far longer than this.
   */
  @Expose()
  @IsInt()
  @Min(500)
  @Max(3_600_000)
  readonly TASK_LEASE_MS: number = 30_000;

  /**
   * Names this process in a task's history (which worker started, gave back or finished it).
   * Defaults to `<hostname>:<pid>` — in Kubernetes the hostname is the pod's name.
   */
  @Expose()
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  @Matches(/^[\x21-\x7e]+$/, { message: 'WORKER_ID must be printable ASCII without spaces' })
  readonly WORKER_ID: string = `${hostname()}:${process.pid}`;

  /**
   * Diagnostics only: a file to which `diagnostic.sleep` appends one line per finished execution
   * (`task_id retry_count pid`), so tests can count executions independently of the table.
   */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(1)
  readonly DIAGNOSTIC_EXECUTION_LOG?: string;

  /** How often the progress handlers report is written (coalesced: the latest per task, one statement for all). */
  @Expose()
  @IsInt()
  @Min(100)
  @Max(60_000)
  readonly PROGRESS_FLUSH_INTERVAL_MS: number = 500;

  /**
   * Tasks of this worker's type running at once across every replica (ADR 0015); 0: no limit.
   * Every replica of the type must be given the same value. A delivery over the limit waits in
   * the process (unacked, at most DELIVERY_MAX_WAIT_MS) until a task of the type ends.
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  readonly TASK_TYPE_MAX_RUNNING: number = 0;

  /**
   * Tasks of this worker's type started per second across every replica (ADR 0015), fractions
   * allowed (0.5: one every 2 s); 0: no limit. A token bucket in the database holding up to one
   * second's worth (at least one). Every replica of the type must be given the same value.
   */
  @Expose()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1_000_000)
  readonly TASK_TYPE_MAX_PER_SECOND: number = 0;
}
