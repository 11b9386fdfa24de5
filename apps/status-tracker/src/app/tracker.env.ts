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
}
