import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskFailedEvent, TaskRetryingEvent, TaskSucceededEvent } from '@tasklane/contracts';
import { Batcher } from '@tasklane/concurrency';
import { TaskEventRepository } from '@tasklane/persistence';
import { WorkerEnv } from '../worker.env';
import { errorMessageOf } from './task-outcome';

export type RecordResult = 'recorded' | 'claim lost' | 'not recorded';

/**
 * Stage 3: write a final outcome to the task's row under this worker's claim before its event goes
 * out (ADR 0006), so that a cancel coming after it finds the task finished. Outcomes of tasks
 * finishing together are written in one statement.
 * - 'recorded': the row is final;
 * - 'claim lost': the claim is gone (cancelled or handed back meanwhile) — discard the outcome;
 * - 'not recorded': the database is away — the event alone carries the outcome, and the status
 *   tracker writes it once it can.
 */
@Injectable()
export class OutcomeRecordStage {
  private readonly logger = new Logger(OutcomeRecordStage.name);
  private readonly outcomes: Batcher<TaskSucceededEvent | TaskFailedEvent, boolean>;

  constructor(
    @Inject(TaskEventRepository)
    private readonly events: Pick<TaskEventRepository, 'recordOutcomes' | 'recordRetrying'>,
    @Inject(WorkerEnv) private readonly env: Pick<WorkerEnv, 'WORKER_CONCURRENCY' | 'WORKER_ID'>,
  ) {
    this.outcomes = new Batcher((outcomes) => events.recordOutcomes(outcomes, { workerId: env.WORKER_ID }), {
      maxInFlight: 2,
      maxSize: Math.max(1, env.WORKER_CONCURRENCY),
      maxWaitMs: 0,
    });
  }

  async record(event: TaskSucceededEvent | TaskFailedEvent): Promise<RecordResult> {
    try {
      return (await this.outcomes.add(event)) ? 'recorded' : 'claim lost';
    } catch (error) {
      this.logger.warn({
        message: 'could not record the outcome in the database; the status tracker will from its event',
        task_id: event.task_id,
        attempt: event.attempt,
        error: errorMessageOf(error),
      });
      return 'not recorded';
    }
  }

  /**
   * Records a failed attempt that will be retried (pending as the next retry, its `retrying`
   * history row) under the claim, once its retry message is out and before its event.
   */
  async recordRetrying(event: TaskRetryingEvent): Promise<RecordResult> {
    try {
      return (await this.events.recordRetrying(event, { workerId: this.env.WORKER_ID })) ? 'recorded' : 'claim lost';
    } catch (error) {
      this.logger.warn({
        message: 'could not record the retry in the database; the status tracker will from its event',
        task_id: event.task_id,
        attempt: event.attempt,
        error: errorMessageOf(error),
      });
      return 'not recorded';
    }
  }
}
