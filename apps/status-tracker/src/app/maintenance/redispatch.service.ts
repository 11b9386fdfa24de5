import { Inject, Injectable, Logger } from '@nestjs/common';
import { TASK_TYPES, TaskCommand, TaskStatus, TaskType, taskQueueName } from '@tasklane/contracts';
import { AmqpConnection, QueueState, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { RedispatchRepository, TaskCountRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from './periodic.service';

/** Pending tasks looked at per pass (one transaction). */
const SCAN = 500;

/** Why a command was published again (the `reason` label of tasklane_tasks_redispatched_total). */
export enum RedispatchReason {
  /** Its queue held nothing ready while the task had been out for REDISPATCH_EMPTY_QUEUE_AFTER_MS. */
  QueueEmpty = 'queue_empty',
  /** It had been out for REDISPATCH_AFTER_MS while its queue held fewer messages than pending tasks. */
  Overdue = 'overdue',
}

/**
 * The re-dispatcher (ADR 0010): the database, not the broker, says which tasks must run. A task
 * whose command RabbitMQ confirmed can still lose its message — the queue purged or deleted, a
 * node's disk lost — and would then stay pending forever. Every REDISPATCH_INTERVAL_MS, per task
 * type:
 * - the queue holds no ready message: every pending task of the type whose command has been out
 *   (and due) for REDISPATCH_EMPTY_QUEUE_AFTER_MS has no message left (at most a few sit in a
 *   worker's prefetch, waiting for a slot): published again;
 * - the queue has a consumer but fewer ready messages than the type has pending tasks: the oldest
 *   pending tasks out (and due) for REDISPATCH_AFTER_MS are published again.
 * A copy is harmless: the workers' claim drops whichever comes second. A task is published again
 * at most once per bound, however many trackers run (rows are locked SKIP LOCKED).
 */
@Injectable()
export class RedispatchService extends PeriodicService {
  protected readonly logger = new Logger(RedispatchService.name);

  constructor(
    @Inject(RedispatchRepository) private readonly redispatch: RedispatchRepository,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    super();
    for (const taskType of TASK_TYPES) {
      for (const reason of Object.values(RedispatchReason)) {
        metrics.tasksRedispatched.inc({ task_type: taskType, reason }, 0);
      }
    }
    this.every(env.REDISPATCH_INTERVAL_MS, 're-dispatch', () => this.sweep());
  }

  /** Compares every task queue with the pending tasks of its type, publishing again what was lost. */
  async sweep(): Promise<void> {
    for (const taskType of TASK_TYPES) {
      const queue = await this.broker.queueState(taskQueueName(taskType));
      if (queue === null) {
        return;
      }
      if (queue === 'missing') {
        // Deleted under us: declared again, it is empty at the next sweep.
        await this.broker.redeclareTopology();
        continue;
      }
      await this.sweepType(taskType, queue);
    }
  }

  private async sweepType(taskType: TaskType, queue: QueueState): Promise<void> {
    if (queue.ready === 0) {
      let after: string | undefined;
      for (;;) {
        const pass = await this.redispatch.redispatchIdle(
          { taskType, idleForMs: this.env.REDISPATCH_EMPTY_QUEUE_AFTER_MS, after, scan: SCAN },
          (commands) => this.publish(commands, RedispatchReason.QueueEmpty),
        );
        if (pass.scanned < SCAN || pass.last === null || !this.broker.isConnected()) {
          return;
        }
        after = pass.last;
      }
    }
    // With no consumer nothing runs anyway, and once one drains the queue the first case applies.
    if (queue.consumers > 0 && queue.ready < (await this.counts.count({ status: TaskStatus.Pending, taskType }))) {
      await this.redispatch.redispatchIdle(
        { taskType, idleForMs: this.env.REDISPATCH_AFTER_MS, scan: SCAN },
        (commands) => this.publish(commands, RedispatchReason.Overdue),
      );
    }
  }

  private async publish(commands: TaskCommand[], reason: RedispatchReason): Promise<void> {
    await Promise.all(commands.map((command) => this.messages.publishCommand(command)));
    for (const command of commands) {
      this.metrics.tasksRedispatched.inc({ task_type: command.task_type, reason });
      this.logger.warn({
        message: 'task command published again: the broker had lost it',
        task_id: command.task_id,
        task_name: command.task_name,
        retry_count: command.retry_count,
        reason,
      });
    }
  }
}
