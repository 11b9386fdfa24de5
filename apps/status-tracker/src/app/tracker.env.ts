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
}
