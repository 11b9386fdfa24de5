import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCommand } from '@tasklane/contracts';
import { AmqpConnection, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { TaskOutboxRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from './periodic.service';

const BATCH = 200;

/**
 * The outbox relay (ADR 0005): publishes the commands of pending tasks the broker never
 * confirmed — a gateway that died between its commit and its publish, a publish that failed, a
 * claim released on shutdown or reclaimed after its lease expired — and marks them dispatched.
 * Several trackers can run it: rows are locked with SKIP LOCKED. It is also the due relay
 * (ADR 0012): the tasks scheduled for later wait in the table, not in the broker, and go out
 * every DUE_RELAY_INTERVAL_MS once their time has come.
 */
@Injectable()
export class OutboxRelayService extends PeriodicService {
  protected readonly logger = new Logger(OutboxRelayService.name);

  constructor(
    @Inject(TaskOutboxRepository) private readonly outbox: TaskOutboxRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    super();
    metrics.outboxRelayed.inc(0);
    metrics.scheduledDispatched.inc(0);
    this.every(env.OUTBOX_RELAY_INTERVAL_MS, 'outbox relay', () => this.relay());
    this.every(env.DUE_RELAY_INTERVAL_MS, 'due relay', () => this.relayDue());
  }

  /** Relays until the outbox is empty (or the broker goes away). */
  async relay(): Promise<void> {
    while (this.broker.isConnected()) {
      const relayed = await this.outbox.relayOutbox(this.env.OUTBOX_RELAY_MIN_AGE_MS, BATCH, (commands) =>
        this.publish(commands, 'task command relayed from the outbox'),
      );
      this.metrics.outboxRelayed.inc(relayed);
      if (relayed < BATCH) {
        return;
      }
    }
  }

  /** Publishes the scheduled tasks whose time has come, until none is left (or the broker goes away). */
  async relayDue(): Promise<void> {
    while (this.broker.isConnected()) {
      const published = await this.outbox.relayDue(BATCH, (commands) =>
        this.publish(commands, 'scheduled task due: command published'),
      );
      this.metrics.scheduledDispatched.inc(published);
      if (published < BATCH) {
        return;
      }
    }
  }

  private async publish(commands: TaskCommand[], message: string): Promise<void> {
    await Promise.all(commands.map((command) => this.messages.publishCommand(command)));
    for (const command of commands) {
      this.logger.log({
        message,
        task_id: command.task_id,
        task_name: command.task_name,
        retry_count: command.retry_count,
      });
    }
  }
}
