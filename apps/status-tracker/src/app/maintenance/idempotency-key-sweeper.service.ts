import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskRetentionRepository } from '@tasklane/persistence';
import { PeriodicService } from './periodic.service';

/** How often expired idempotency keys are deleted, and how many per statement. */
const SWEEP_INTERVAL_MS = 60_000;
const BATCH = 1_000;

/**
 * Deletes the idempotency keys past their retention (`IDEMPOTENCY_KEY_RETENTION_MS` of the
 * gateway, stored per key as `expires_at`), a bounded batch per statement. An expired key no
 * longer matches anyway (the enqueue replaces it); this only keeps the table small. Several
 * trackers may run it: a row deleted twice is deleted once.
 */
@Injectable()
export class IdempotencyKeySweeper extends PeriodicService {
  protected readonly logger = new Logger(IdempotencyKeySweeper.name);

  constructor(@Inject(TaskRetentionRepository) private readonly retention: TaskRetentionRepository) {
    super();
    this.every(SWEEP_INTERVAL_MS, 'idempotency key sweep', () => this.sweep());
  }

  /** Deletes every expired key, a batch at a time; returns how many. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.retention.purgeExpiredIdempotencyKeys(BATCH);
      total += deleted;
      if (deleted < BATCH) {
        if (total > 0) {
          this.logger.log({ message: 'expired idempotency keys deleted', count: total });
        }
        return total;
      }
    }
  }
}
