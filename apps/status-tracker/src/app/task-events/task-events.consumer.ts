import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue, TaskEvent, decodeTaskEvents, encodeEvents } from '@tasklane/contracts';
import {
  AmqpConnection,
  BrokerListener,
  Delivery,
  ListensToBroker,
  QueueConsumer,
  TaskMessagePublisher,
} from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { Batcher, retryWithBackoff, sleep } from '@tasklane/concurrency';
import { DatabaseUnavailableError, EventsApplied, TaskEventRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';

/** A delivered message and its events (one, or several published together); acked once all are written. */
interface PendingDelivery {
  events: TaskEvent[];
  delivery: Delivery;
}

const DATABASE_RETRY_MIN_DELAY_MS = 250;
const DATABASE_RETRY_MAX_DELAY_MS = 5_000;

/**
 * Persists lifecycle events into `background_tasks`. Events are written in batches, one
 * transaction per batch, and their messages acknowledged only after the commit; the
 * repository's forward-only guard makes duplicates, late and reordered events harmless. While
 * the database is down the batch is retried (nothing is acked, nothing lost); an event the
 * database refuses on its own goes to the dead-letter queue instead of blocking the rest.
 */
@Injectable()
@ListensToBroker()
export class TaskEventsConsumer implements BrokerListener {
  private readonly logger = new Logger(TaskEventsConsumer.name);
  private readonly consumer: QueueConsumer;
  /** Deliveries wait here to be written together; batches are written one after another. */
  private readonly batches: Batcher<PendingDelivery>;
  /** Deliveries received and not yet settled, with when each arrived (in arrival order). */
  private readonly inHand = new Map<Delivery, number>();
  private readonly stopped: Promise<void>;
  private markStopped!: () => void;

  constructor(
    @Inject(AmqpConnection) connection: AmqpConnection,
    @Inject(TaskEventRepository) private readonly events: TaskEventRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    this.batches = new Batcher((batch) => this.write(batch).catch((error: unknown) => this.giveBack(batch, error)), {
      maxSize: env.TRACKER_BATCH_SIZE,
      maxWaitMs: env.TRACKER_FLUSH_INTERVAL_MS,
      maxInFlight: 1,
      sizeOf: (pending) => pending.events.length,
    });
    this.consumer = new QueueConsumer(connection, {
      queue: Queue.StatusTracker,
      // Twice the batch: one batch is being written while the next one fills.
      prefetch: env.TRACKER_BATCH_SIZE * 2,
      handle: (delivery) => this.handle(delivery),
    });
  }

  async listen(): Promise<void> {
    await this.consumer.start();
  }

  /** First thing on shutdown (BrokerTransport.close), before any Nest shutdown hook. */
  async drain(): Promise<void> {
    try {
      await this.consumer.stop(this.env.SHUTDOWN_GRACE_MS);
    } finally {
      this.markStopped();
    }
  }

  /** Resolves once shutdown has stopped the consumer: everything received is written or back in the queue. */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  /**
   * How long the oldest delivery received and not yet written (or handed back) has been waiting;
   * 0 when there is none. Everything received before that is written.
   */
  unsettledForMs(): number {
    const oldest = this.inHand.values().next();
    return oldest.done ? 0 : Date.now() - oldest.value;
  }

  isConsuming(): boolean {
    return this.consumer.isConsuming();
  }

  /** Resolves once every event delivered so far is written (or dead-lettered) and acked. */
  settled(): Promise<void> {
    return this.batches.flush();
  }

  private async handle(delivery: Delivery): Promise<void> {
    this.inHand.set(delivery, Date.now());
    try {
      await this.persist(delivery);
    } finally {
      this.inHand.delete(delivery);
    }
  }

  private async persist(delivery: Delivery): Promise<void> {
    const decoded = decodeTaskEvents(delivery.message.content);
    if (!decoded.ok) {
      this.logger.error({ message: 'malformed event message sent to the dead-letter queue', reason: decoded.reason });
      await this.deadLetter(delivery, decoded.reason);
      return;
    }
    const events: TaskEvent[] = [];
    const malformed: string[] = [];
    decoded.events.forEach((event, index) => {
      if (event.ok) {
        events.push(event.value);
      } else {
        this.logger.error({ message: 'malformed event', task_id: event.taskId, reason: event.reason });
        malformed.push(decoded.events.length === 1 ? event.reason : `event ${index}: ${event.reason}`);
      }
    });
    if (events.length === 0) {
      await this.deadLetter(delivery, malformed.join('; '));
      return;
    }
    if (malformed.length > 0) {
      // The whole message is parked, so nothing of it is lost; its well-formed events are still
      // written, and it is acked with them (replaying it later is harmless: the guard skips what
      // is already applied).
      await this.messages.publishDeadLetter(
        delivery.message.content,
        malformed.join('; '),
        Queue.StatusTracker,
        this.messageIdOf(delivery),
      );
    }
    await this.batches.add({ events, delivery });
  }

  private async write(batch: PendingDelivery[]): Promise<void> {
    const events = batch.flatMap((pending) => pending.events);
    if ((await this.apply(events)) !== null) {
      // One bad event must not hold the others back: write them one by one.
      for (const pending of batch) {
        for (const event of pending.events) {
          const refused = await this.apply([event]);
          if (refused !== null) {
            await this.messages.publishDeadLetter(
              encodeEvents([event]),
              `database refused the event: ${refused}`,
              Queue.StatusTracker,
              `${event.task_id}.${event.retry_count}.${event.event}`,
            );
          }
        }
      }
    }
    for (const pending of batch) {
      pending.delivery.ack();
    }
  }

  /**
   * Writes events in one transaction, retrying while the database is away. Null once written;
   * the database's reason when it refused the statement itself (nothing was written).
   */
  private async apply(events: TaskEvent[]): Promise<string | null> {
    let written: EventsApplied;
    try {
      written = await retryWithBackoff(() => this.events.applyEvents(events), {
        minDelayMs: DATABASE_RETRY_MIN_DELAY_MS,
        maxDelayMs: DATABASE_RETRY_MAX_DELAY_MS,
        retryIf: (error) => error instanceof DatabaseUnavailableError,
        onRetry: (error, delay) =>
          this.logger.warn({
            message: `database unavailable; retrying the batch in ${delay} ms`,
            events: events.length,
            error: (error as Error).message,
          }),
      });
    } catch (error) {
      this.logger.error({
        message:
          events.length === 1
            ? 'event refused by the database; sent to the dead-letter queue'
            : 'batch of events refused by the database; writing them one by one',
        task_id: events.length === 1 ? events[0].task_id : undefined,
        events: events.length,
        error: (error as Error).message,
      });
      return (error as Error).message;
    }
    this.logger.debug({ message: 'events written', applied: written.applied, stale: written.stale });
    const now = Date.now();
    for (const event of events) {
      this.metrics.eventsPersisted.inc({ event: event.event });
      this.metrics.eventLag.observe(Math.max(0, now - Date.parse(event.occurred_at)) / 1000);
    }
    return null;
  }

  /** Something unexpected (e.g. the broker went away while dead-lettering): let the broker redeliver. */
  private async giveBack(batch: PendingDelivery[], error: unknown): Promise<void> {
    this.logger.error({
      message: 'could not write a batch of events; handing it back',
      events: batch.length,
      error: (error as Error).message,
    });
    await sleep(DATABASE_RETRY_MAX_DELAY_MS);
    for (const pending of batch) {
      pending.delivery.nack(true);
    }
  }

  private async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    await this.messages.publishDeadLetter(
      delivery.message.content,
      reason,
      Queue.StatusTracker,
      this.messageIdOf(delivery),
    );
    delivery.ack();
  }

  private messageIdOf(delivery: Delivery): string {
    return String(delivery.message.properties.messageId ?? 'unknown');
  }
}
