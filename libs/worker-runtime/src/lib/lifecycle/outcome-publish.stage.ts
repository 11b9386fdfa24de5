import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskEventType, TaskRetryingEvent } from '@tasklane/contracts';
import {
  AmqpConnection,
  BrokerUnavailableError,
  MessageRejectedError,
  TaskMessagePublisher,
  assertRetryDelayLevel,
  retryDelayFor,
  retryDelayLevels,
} from '@tasklane/messaging';
import { RetryStoppedError, retryWithBackoff } from '@tasklane/concurrency';
import { WorkerEnv } from '../worker.env';
import { RunningTask } from './running-tasks';
import { FinalEvent, eventBase } from './task-events';
import { TaskOutcome, errorMessageOf } from './task-outcome';

const OUTCOME_PUBLISH_MIN_DELAY_MS = 250;
const OUTCOME_PUBLISH_MAX_DELAY_MS = 5_000;

/**
 * Stage 4: publish what happened, with confirms — `started` (best effort), then the outcome: its
 * final event, or the delayed retry message followed by `retrying` (recorded in the table in
 * between, by the caller's `retryPublished`). Outcomes are retried through
 * broker outages and lost queues for as long as the task is this worker's.
 */
@Injectable()
export class OutcomePublishStage {
  private readonly logger = new Logger(OutcomePublishStage.name);
  private readonly retryLevels: number[];

  constructor(
    @Inject(AmqpConnection) connection: AmqpConnection,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(WorkerEnv) env: Pick<WorkerEnv, 'RETRY_BASE_DELAY_MS' | 'RETRY_MAX_DELAY_MS'>,
  ) {
    const levels = retryDelayLevels(env.RETRY_BASE_DELAY_MS, env.RETRY_MAX_DELAY_MS);
    this.retryLevels = levels;
    connection.addTopology(async (channel) => {
      for (const delay of levels) {
        await assertRetryDelayLevel(channel, delay);
      }
    });
  }

  /** Publishes `started`. Never fails: the claim already recorded the start, and the outcome event follows. */
  async started(task: RunningTask, startedAt: Date): Promise<void> {
    try {
      await this.messages.publishEvent({
        event: TaskEventType.Started,
        ...eventBase(task),
        occurred_at: startedAt.toISOString(),
      });
    } catch (error) {
      this.logger.warn({
        message: 'could not publish the started event',
        task_id: task.command.task_id,
        attempt: task.attempt,
        error: errorMessageOf(error),
      });
    }
  }

  /**
   * Publishes the outcome, retrying through broker outages — the lease keeps being renewed
   * meanwhile — until it is confirmed (true) or the task is given up (false).
   */
  async outcome(
    task: RunningTask,
    outcome: TaskOutcome,
    final: FinalEvent | null,
    retryPublished: (event: TaskRetryingEvent) => Promise<void> = () => Promise.resolve(),
  ): Promise<boolean> {
    if (task.givenUp) {
      return false;
    }
    try {
      await retryWithBackoff(() => this.publishOnce(task, outcome, final, retryPublished), {
        minDelayMs: OUTCOME_PUBLISH_MIN_DELAY_MS,
        maxDelayMs: OUTCOME_PUBLISH_MAX_DELAY_MS,
        // Unroutable: part of the topology was lost, and the publisher declares it again.
        retryIf: (error) => error instanceof BrokerUnavailableError || error instanceof MessageRejectedError,
        stopIf: () => task.givenUp,
        onRetry: (error, delay) =>
          this.logger.warn({
            message: `broker unavailable; retrying the outcome in ${delay} ms`,
            task_id: task.command.task_id,
            error: errorMessageOf(error),
          }),
      });
      return true;
    } catch (error) {
      if (error instanceof RetryStoppedError) {
        return false;
      }
      throw error;
    }
  }

  private async publishOnce(
    task: RunningTask,
    outcome: TaskOutcome,
    final: FinalEvent | null,
    retryPublished: (event: TaskRetryingEvent) => Promise<void>,
  ): Promise<void> {
    if (outcome.kind !== 'retry') {
      if (final === null) {
        throw new Error(`a ${outcome.kind} outcome needs its final event`);
      }
      await this.messages.publishEvent(final);
      return;
    }
    const delayMs = retryDelayFor(outcome.nextRetryCount, this.retryLevels);
    // The retry message first: if this process dies now, the task still runs again.
    await this.messages.publishRetry({ ...task.command, retry_count: outcome.nextRetryCount }, delayMs);
    const retrying: TaskRetryingEvent = {
      event: TaskEventType.Retrying,
      ...eventBase(task),
      occurred_at: new Date().toISOString(),
      error_message: outcome.errorMessage,
      delay_ms: delayMs,
    };
    // Recorded in the table before the event goes out (the retry may be claimed before the
    // tracker gets to the event).
    await retryPublished(retrying);
    await this.messages.publishEvent(retrying);
  }
}
