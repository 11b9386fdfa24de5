import { ConflictException, Inject, Injectable, Logger } from '@nestjs/common';
import { TaskControlType, TaskResource, TaskStatus } from '@tasklane/contracts';
import { TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { TaskControlRepository } from '@tasklane/persistence';
import { TaskQueries } from './task-queries.service';

/**
 * POST /api/tasks/{id}/cancel: cancels a pending or running task (409 otherwise). It is
 * `cancelled` in the database at once — the authority: its queued message is dropped at the
 * claim, and a worker running it loses its claim at its next heartbeat. The broadcast to the
 * workers only makes the abort immediate.
 */
@Injectable()
export class CancelTask {
  private readonly logger = new Logger(CancelTask.name);

  constructor(
    @Inject(TaskControlRepository) private readonly control: Pick<TaskControlRepository, 'cancel'>,
    @Inject(TaskQueries) private readonly queries: TaskQueries,
    @Inject(TaskMessagePublisher) private readonly messages: Pick<TaskMessagePublisher, 'publishControl'>,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {}

  async execute(taskId: string, actor: string): Promise<TaskResource> {
    const cancelled = await this.control.cancel(taskId, new Date(), { actor });
    // The worker running it is told at once: every millisecond counts against the handler's end.
    const broadcast = cancelled?.from === TaskStatus.Running ? this.broadcast(taskId, cancelled.attempt) : null;
    const task = await this.queries.get(taskId);
    if (cancelled === null) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Task ${taskId} is ${task.status}; only pending or running tasks can be cancelled`,
        status: task.status,
      });
    }
    await broadcast;
    this.metrics.cancelled.inc({ task_type: task.task_type });
    this.logger.log({
      message: 'task cancelled',
      task_id: taskId,
      task_name: task.task_name,
      was: cancelled.from,
      actor,
    });
    return task;
  }

  private async broadcast(taskId: string, attempt: number): Promise<void> {
    const message = { type: TaskControlType.Cancel, task_id: taskId, attempt };
    await this.messages.publishControl(message).catch((error: unknown) =>
      this.logger.warn({
        message: 'could not broadcast the cancel; the worker learns it at its next heartbeat',
        task_id: taskId,
        error: (error as Error).message,
      }),
    );
  }
}
