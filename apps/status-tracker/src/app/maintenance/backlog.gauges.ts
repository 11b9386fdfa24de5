import { Inject, Injectable, Logger } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { Queue, TASK_TYPES, taskQueueName } from '@tasklane/contracts';
import { AmqpConnection } from '@tasklane/messaging';
import { TaskCountRepository, TaskQueryRepository } from '@tasklane/persistence';

/** Queues whose depth is exported: every task queue, the tracker's and the dead-letter queue. */
const WATCHED_QUEUES = [...TASK_TYPES.map(taskQueueName), Queue.StatusTracker, Queue.DeadLetter];

/**
 * Backlog gauges, read when Prometheus scrapes: messages ready per queue (from RabbitMQ) and the
 * age of the oldest pending task per type (from the table — what a backlog alert should watch),
 * and the count changes waiting to be folded.
 */
@Injectable()
export class BacklogGauges {
  private readonly logger = new Logger(BacklogGauges.name);

  constructor(
    @Inject(Registry) registry: Registry,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TaskQueryRepository) private readonly queries: TaskQueryRepository,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
  ) {
    const readyGauge = new Gauge({
      name: 'tasklane_queue_messages_ready',
      help: 'Messages waiting in each Tasklane queue.',
      labelNames: ['queue'],
      registers: [registry],
      collect: async () => {
        readyGauge.reset();
        for (const queue of WATCHED_QUEUES) {
          const ready = await this.broker.readyMessages(queue).catch(() => null);
          if (ready !== null) {
            readyGauge.set({ queue }, ready);
          }
        }
      },
    });
    const ageGauge = new Gauge({
      name: 'tasklane_pending_oldest_age_seconds',
      help: 'Age of the oldest pending task per task type (0 when none is pending).',
      labelNames: ['task_type'],
      registers: [registry],
      collect: async () => {
        try {
          const ages = new Map((await this.queries.oldestPendingAges()).map((row) => [row.taskType, row.ageMs]));
          for (const type of TASK_TYPES) {
            ageGauge.set({ task_type: type }, (ages.get(type) ?? 0) / 1000);
          }
        } catch (error) {
          // No stale ages: the series disappear until the database answers again.
          ageGauge.reset();
          this.logger.warn({ message: 'could not read the pending backlog', error: (error as Error).message });
        }
      },
    });
    const changesGauge = new Gauge({
      name: 'tasklane_count_changes_pending',
      help: 'Count changes not folded into the task counts yet (grows while no tracker folds them).',
      registers: [registry],
      collect: async () => {
        try {
          changesGauge.set(await this.counts.pendingCountChanges());
        } catch {
          changesGauge.reset();
        }
      },
    });
  }
}
