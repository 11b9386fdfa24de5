import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCommand, TaskRetryingEvent, TaskType } from '@tasklane/contracts';
import { TaskMetrics, TaskOutcomeLabel } from '@tasklane/observability';
import { ClaimWon } from '@tasklane/persistence';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { OutcomePublishStage } from './outcome-publish.stage';
import { OutcomeRecordStage } from './outcome-record.stage';
import { RunningTask, RunningTasks } from './running-tasks';
import { finalEventOf } from './task-events';
import { TaskOutcome } from './task-outcome';
import { TaskRunStage } from './task-run.stage';

/**
 * What happens to a task once this worker's claim on it is won (the transport has acked its
 * delivery: the task lives in the database under the lease, ADR 0005):
 * run the handler → record a final outcome in the row under the claim → publish it.
 * A task given up on the way (lease lost, cancelled, handed back at shutdown) has its outcome
 * discarded: another run follows, or none. Metrics and the `task_id`-carrying log lines of a run
 * are written here, once.
 */
@Injectable()
export class TaskLifecycle {
  private readonly logger = new Logger(TaskLifecycle.name);

  constructor(
    @Inject(RunningTasks) private readonly running: RunningTasks,
    @Inject(TaskRunStage) private readonly runStage: Pick<TaskRunStage, 'run'>,
    @Inject(OutcomeRecordStage) private readonly recordStage: Pick<OutcomeRecordStage, 'record' | 'recordRetrying'>,
    @Inject(OutcomePublishStage) private readonly publishStage: Pick<OutcomePublishStage, 'started' | 'outcome'>,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
    @Inject(WORKER_TASK_TYPE) taskType: TaskType,
  ) {
    // Export this worker's counters from the start (at 0), so rates and ratios exist before the first task.
    for (const counter of [metrics.started, metrics.completed, metrics.failed, metrics.retried]) {
      counter.inc({ task_type: taskType }, 0);
    }
  }

  /**
   * Runs a claimed task to its end. `handlerDone` is called as soon as the handler has finished:
   * recording and publishing need no handler slot, so the next task can start meanwhile.
   */
  async run(command: TaskCommand, claim: ClaimWon, handlerDone: () => void): Promise<void> {
    const fields = { task_id: command.task_id, task_name: command.task_name, retry_count: command.retry_count };
    const task = this.running.hold(command, claim.attempt);
    const labels = { task_type: command.task_type };
    const observeDuration = this.metrics.duration.startTimer({ ...labels, task_name: command.task_name });
    const finish = (outcome: TaskOutcomeLabel): void => {
      observeDuration({ outcome });
    };
    try {
      this.metrics.started.inc(labels);
      this.logger.log({ message: 'task started', ...fields, attempt: task.attempt });
      const started = this.publishStage.started(task, claim.startedAt);
      const outcome = await this.runStage.run(task);
      handlerDone();
      const final = finalEventOf(task, outcome);
      await started;
      if (final !== null && !task.givenUp) {
        const recorded = await this.recordStage.record(final);
        if (recorded === 'recorded') {
          this.running.stopRenewing(task);
        } else if (recorded === 'claim lost') {
          task.givenUp = true;
        }
        // 'not recorded' (database away): the lease stays held until the event is published.
      }
      const retryPublished = async (event: TaskRetryingEvent): Promise<void> => {
        // The row is pending as the next retry now: its lease is no longer this worker's to renew.
        if ((await this.recordStage.recordRetrying(event)) === 'recorded') {
          this.running.stopRenewing(task);
        }
      };
      if (task.givenUp || !(await this.publishStage.outcome(task, outcome, final, retryPublished))) {
        finish('given_up');
        this.logger.warn({
          message: 'task given up (claim lost or handed back); its outcome is discarded',
          ...fields,
          attempt: task.attempt,
        });
        return;
      }
      this.report(task, outcome, finish);
    } finally {
      this.running.forget(task);
    }
  }

  /** End of the shutdown grace: give up every task still held and release its claim. */
  handBackRunning(): Promise<void> {
    return this.running.handBackAll();
  }

  private report(task: RunningTask, outcome: TaskOutcome, finish: (outcome: TaskOutcomeLabel) => void): void {
    const { command, attempt } = task;
    const fields = {
      task_id: command.task_id,
      task_name: command.task_name,
      retry_count: command.retry_count,
      attempt,
    };
    const labels = { task_type: command.task_type };
    switch (outcome.kind) {
      case 'succeeded':
        finish('succeeded');
        this.metrics.completed.inc(labels);
        this.logger.log({ message: 'task succeeded', ...fields });
        break;
      case 'retry':
        finish('retried');
        this.metrics.retried.inc(labels);
        this.logger.log({ message: 'task will be retried', ...fields, error: outcome.errorMessage });
        break;
      case 'failed':
        finish('failed');
        this.metrics.failed.inc(labels);
        this.logger.log({ message: 'task failed', ...fields, error: outcome.errorMessage });
        break;
    }
  }
}
