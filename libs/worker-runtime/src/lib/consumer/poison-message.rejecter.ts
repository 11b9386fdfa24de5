import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskType, taskQueueName } from '@tasklane/contracts';
import { Delivery, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { TaskClaimRepository } from '@tasklane/persistence';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { WorkerEnv } from '../worker.env';

/**
 * A delivery that is not a valid command for this worker (garbage, unknown task name, invalid
 * params) goes to the dead-letter queue, and the task's row — when its id could be read — fails
 * with the reason, so that it never stays `pending`. Then the delivery is acked.
 */
@Injectable()
export class PoisonMessageRejecter {
  private readonly logger = new Logger(PoisonMessageRejecter.name);
  private readonly queue: string;

  constructor(
    @Inject(TaskMessagePublisher) private readonly messages: Pick<TaskMessagePublisher, 'publishDeadLetter'>,
    @Inject(TaskClaimRepository) private readonly claims: Pick<TaskClaimRepository, 'failUnprocessable'>,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
    @Inject(WORKER_TASK_TYPE) private readonly taskType: TaskType,
    @Inject(WorkerEnv) private readonly env: Pick<WorkerEnv, 'WORKER_ID'>,
  ) {
    this.queue = taskQueueName(taskType);
  }

  async reject(delivery: Delivery, reason: string, taskId: string | undefined): Promise<void> {
    const messageId = String(delivery.message.properties.messageId ?? taskId ?? 'unknown');
    this.logger.error({ message: 'poison message sent to the dead-letter queue', task_id: taskId, reason });
    await this.messages.publishDeadLetter(delivery.message.content, reason, this.queue, messageId);
    if (
      taskId !== undefined &&
      (await this.claims.failUnprocessable(taskId, `unprocessable message: ${reason}`, new Date(), {
        workerId: this.env.WORKER_ID,
      }))
    ) {
      this.metrics.failed.inc({ task_type: this.taskType });
    }
    delivery.ack();
  }
}
