import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Queue, TaskEvent, decodeTaskEvent } from '@tasklane/contracts';
import { AmqpConnection, Delivery, QueueConsumer, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { BackgroundTaskRepository, isDatabaseUnavailable } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';

interface PendingEvent {
  event: TaskEvent;
  delivery: Delivery;
  written: () => void;
}

const DATABASE_RETRY_MIN_DELAY_MS = 250;
const DATABASE_RETRY_MAX_DELAY_MS = 5_000;

/**
 * Persists lifecycle events into `background_tasks`. Events are written in batches, one
 * transaction per batch, and acknowledged only after the commit; the repository's forward-only
 * guard makes duplicates, late and reordered events harmless. While the database is down the
 * batch is retried (nothing is acked, nothing lost); an event the database refuses on its own
 * goes to the dead-letter queue instead of blocking the rest.
 */
@Injectable()
export class TaskEventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskEventsConsumer.name);
  private readonly consumer: QueueConsumer;
  private pending: PendingEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(AmqpConnection) connection: AmqpConnection,
    @Inject(BackgroundTaskRepository) private readonly tasks: BackgroundTaskRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    this.consumer = new QueueConsumer(connection, {
      queue: Queue.StatusTracker,
      // Twice the batch: one batch is being written while the next one fills.
      prefetch: env.TRACKER_BATCH_SIZE * 2,
      handle: (delivery) => this.handle(delivery),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop(this.env.SHUTDOWN_GRACE_MS);
  }

  isConsuming(): boolean {
    return this.consumer.isConsuming();
  }

  /** Resolves once every event delivered so far is written (or dead-lettered) and acked. */
  async settled(): Promise<void> {
    this.flush();
    await this.flushing;
  }

  private async handle(delivery: Delivery): Promise<void> {
    const decoded = decodeTaskEvent(delivery.message.content);
    if (!decoded.ok) {
      this.logger.error({
        message: 'malformed event sent to the dead-letter queue',
        task_id: decoded.taskId,
        reason: decoded.reason,
      });
      await this.deadLetter(delivery, decoded.reason);
      return;
    }
    await new Promise<void>((written) => {
      this.pending.push({ event: decoded.value, delivery, written });
      if (this.pending.length >= this.env.TRACKER_BATCH_SIZE) {
        this.flush();
      } else if (this.timer === null) {
        this.timer = setTimeout(() => this.flush(), this.env.TRACKER_FLUSH_INTERVAL_MS);
      }
    });
  }

  /** Takes the events gathered so far as one batch; batches are written one after another. */
  private flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      this.flushing = this.flushing
        .then(() => this.write(batch))
        .catch((error: unknown) => this.giveBack(batch, error));
    }
  }

  private async write(batch: PendingEvent[]): Promise<void> {
    let delay = DATABASE_RETRY_MIN_DELAY_MS;
    for (;;) {
      try {
        const { applied, stale } = await this.tasks.applyEvents(batch.map((pending) => pending.event));
        this.logger.debug({ message: 'events written', applied, stale });
        const now = Date.now();
        for (const { event } of batch) {
          this.metrics.eventsPersisted.inc({ event: event.event });
          this.metrics.eventLag.observe(Math.max(0, now - Date.parse(event.occurred_at)) / 1000);
        }
        for (const pending of batch) {
          pending.delivery.ack();
          pending.written();
        }
        return;
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          this.logger.warn({
            message: `database unavailable; retrying the batch in ${delay} ms`,
            events: batch.length,
            error: (error as Error).message,
          });
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, DATABASE_RETRY_MAX_DELAY_MS);
          continue;
        }
        if (batch.length === 1) {
          const [pending] = batch;
          this.logger.error({
            message: 'event refused by the database; sent to the dead-letter queue',
            task_id: pending.event.task_id,
            error: (error as Error).message,
          });
          await this.deadLetter(pending.delivery, `database refused the event: ${(error as Error).message}`);
          pending.written();
          return;
        }
        // One bad event must not hold the others back: write them one by one.
        for (const pending of batch) {
          await this.write([pending]);
        }
        return;
      }
    }
  }

  /** Something unexpected (e.g. the broker went away while dead-lettering): let the broker redeliver. */
  private async giveBack(batch: PendingEvent[], error: unknown): Promise<void> {
    this.logger.error({
      message: 'could not write a batch of events; handing it back',
      events: batch.length,
      error: (error as Error).message,
    });
    await new Promise((resolve) => setTimeout(resolve, DATABASE_RETRY_MAX_DELAY_MS));
    for (const pending of batch) {
      pending.delivery.nack(true);
      pending.written();
    }
  }

  private async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const messageId = String(delivery.message.properties.messageId ?? 'unknown');
    await this.messages.publishDeadLetter(delivery.message.content, reason, Queue.StatusTracker, messageId);
    delivery.ack();
  }
}
