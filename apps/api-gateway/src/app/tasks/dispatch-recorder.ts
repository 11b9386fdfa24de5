import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { Batcher, retryWithBackoff } from '@tasklane/concurrency';
import { DatabaseUnavailableError, TaskOutboxRepository } from '@tasklane/persistence';

const FLUSH_INTERVAL_MS = 25;
const MAX_BATCH = 500;
/** A batch is tried this often while the database is unavailable (25 then 50 ms apart). */
const MAX_ATTEMPTS = 3;

/**
 * Takes confirmed tasks out of the outbox in batches (one UPDATE for many enqueues). Losing a
 * batch — a crash, the database away — only means the relay publishes those commands again;
 * the duplicates are dropped at the workers' claim.
 */
@Injectable()
export class DispatchRecorder implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DispatchRecorder.name);
  private readonly batcher: Batcher<string>;

  constructor(@Inject(TaskOutboxRepository) private readonly outbox: TaskOutboxRepository) {
    this.batcher = new Batcher((batch) => this.markDispatched(batch), {
      maxSize: MAX_BATCH,
      maxWaitMs: FLUSH_INTERVAL_MS,
      maxInFlight: 2,
    });
  }

  record(taskId: string): void {
    void this.batcher.add(taskId);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.batcher.flush();
  }

  /** Never throws: a batch that could not be recorded is left to the outbox relay. */
  private async markDispatched(batch: string[]): Promise<void> {
    try {
      await retryWithBackoff(() => this.outbox.markDispatched(batch, new Date()), {
        minDelayMs: FLUSH_INTERVAL_MS,
        maxDelayMs: FLUSH_INTERVAL_MS * MAX_ATTEMPTS,
        maxAttempts: MAX_ATTEMPTS,
        retryIf: (error) => error instanceof DatabaseUnavailableError,
      });
    } catch (error) {
      this.logger.warn({
        message: 'could not record dispatched tasks; the outbox relay will publish them again',
        tasks: batch.length,
        error: (error as Error).message,
      });
    }
  }
}
