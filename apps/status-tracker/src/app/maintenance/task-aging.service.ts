import { Inject, Injectable, Logger } from '@nestjs/common';
import { TASK_TYPES, TaskCommand, TaskType } from '@tasklane/contracts';
import { TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { TaskAgingRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from './periodic.service';

/** Tasks aged per transaction, at most; a pass goes on while they come in full. */
const BATCH = 200;

/**
 * Aging (ADR 0015): priority queues serve the highest priority first, so a steady flood of
 * priority-10 tasks above the workers' capacity would keep a priority-1 task waiting forever.
 * Every TASK_AGING_INTERVAL_MS, per task type, the pending tasks below priority 10 whose command
 * has been out for TASK_AGING_AFTER_MS are published again at the aged broker priority — above
 * every Tasklane priority — and start once the aged tasks ahead of them and the workers'
 * prefetch have. The copy left behind is dropped at the claim.
 */
@Injectable()
export class TaskAgingService extends PeriodicService {
  protected readonly logger = new Logger(TaskAgingService.name);

  constructor(
    @Inject(TaskAgingRepository) private readonly aging: TaskAgingRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    super();
    if (env.TASK_AGING_AFTER_MS > 0) {
      for (const taskType of TASK_TYPES) {
        metrics.tasksAged.inc({ task_type: taskType }, 0);
      }
      this.every(env.TASK_AGING_INTERVAL_MS, 'aging', () => this.sweep());
    }
  }

  /** Ages the starved tasks of every type; returns how many were aged. */
  async sweep(): Promise<number> {
    let aged = 0;
    for (const taskType of TASK_TYPES) {
      aged += await this.sweepType(taskType);
    }
    return aged;
  }

  private async sweepType(taskType: TaskType): Promise<number> {
    let aged = 0;
    for (;;) {
      const commands = await this.aging.ageStarved(
        { taskType, waitedMs: this.env.TASK_AGING_AFTER_MS, limit: BATCH },
        (batch) => this.publish(batch),
      );
      aged += commands.length;
      if (commands.length < BATCH) {
        return aged;
      }
    }
  }

  private async publish(commands: TaskCommand[]): Promise<void> {
    await Promise.all(commands.map((command) => this.messages.publishCommand(command, { aged: true })));
    for (const command of commands) {
      this.metrics.tasksAged.inc({ task_type: command.task_type });
      this.logger.log({
        message: 'task aged: published again above every priority',
        task_id: command.task_id,
        task_name: command.task_name,
        priority: command.priority,
        waited_ms: this.env.TASK_AGING_AFTER_MS,
      });
    }
  }
}
