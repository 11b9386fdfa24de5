import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Channel } from 'amqplib';
import { Exchange, TaskControlType, decodeTaskControl } from '@tasklane/contracts';
import { AmqpConnection, BrokerListener, ListensToBroker } from '@tasklane/messaging';
import { RunningTasks } from '../lifecycle/running-tasks';

/**
 * Listens to the control broadcast (`tasklane.control`) through a queue of this process's own
 * (exclusive, deleted with the connection) and hands cancels to `onCancel`. Best effort by
 * design: the database is the authority, and a worker that misses a broadcast learns of the
 * cancel from its next heartbeat. Subscribed before the task consumer starts (it is discovered
 * first) until the application shuts down, after the consumer has drained — no `drain` — so a
 * cancel still reaches a task finishing in the grace.
 */
@Injectable()
@ListensToBroker()
export class TaskControlSubscriber implements BrokerListener, OnApplicationShutdown {
  private readonly logger = new Logger(TaskControlSubscriber.name);
  private channel: Channel | null = null;

  constructor(
    @Inject(AmqpConnection) private readonly connection: AmqpConnection,
    @Inject(RunningTasks) private readonly running: Pick<RunningTasks, 'cancel'>,
  ) {}

  async listen(): Promise<void> {
    await this.connection.onConnected(async (model) => {
      const channel = await model.createChannel();
      channel.on('error', (error: Error) =>
        this.logger.warn({ message: 'control channel error', error: error.message }),
      );
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await channel.bindQueue(queue, Exchange.Control, '');
      await channel.consume(
        queue,
        (message) => {
          if (message === null) {
            return;
          }
          const decoded = decodeTaskControl(message.content);
          if (!decoded.ok) {
            this.logger.warn({ message: 'ignored an unreadable control message', reason: decoded.reason });
            return;
          }
          switch (decoded.value.type) {
            case TaskControlType.Cancel:
              this.running.cancel(decoded.value.task_id, decoded.value.attempt);
              return;
          }
        },
        { noAck: true },
      );
      this.channel = channel;
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
  }
}
