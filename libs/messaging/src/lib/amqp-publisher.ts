import { Inject, Injectable } from '@nestjs/common';
import type { ConfirmChannel, Message } from 'amqplib';
import { AmqpConnection } from './amqp-connection';
import { BrokerUnavailableError, MessageRejectedError } from './broker-errors';

export interface PublishOptions {
  /** Unique per publish of a message; identifies a returned (unroutable) message. */
  messageId: string;
  priority?: number;
  /** AMQP `type` property: the task name or event type, for tooling. */
  type?: string;
  headers?: Record<string, string | number>;
  /** Whether an unroutable message is an error (default true); false for broadcasts nobody may hear. */
  mandatory?: boolean;
}

export const PUBLISH_CONFIRM_TIMEOUT_MS = 5_000;

/**
 * Publishes persistent JSON messages and resolves only when the broker confirmed them, so a
 * resolved publish survives a broker restart. Rejects with {@link BrokerUnavailableError} —
 * worth retrying — when disconnected, when no confirm arrives in time or when the broker nacks
 * the message; with {@link MessageRejectedError} when the message was returned as unroutable
 * (part of the topology is gone: it is declared again for the next try). Never buffers in process
 * memory.
 */
@Injectable()
export class AmqpPublisher {
  private readonly returned = new WeakMap<ConfirmChannel, Map<string, number>>();
  private drained: Promise<void> | null = null;

  constructor(@Inject(AmqpConnection) private readonly connection: AmqpConnection) {}

  async publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    if (this.drained) {
      await this.drained;
    }
    const channel = this.connection.confirmChannel();
    if (!channel) {
      throw new BrokerUnavailableError('not connected to RabbitMQ');
    }
    const returned = this.returnsOf(channel);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BrokerUnavailableError(`RabbitMQ did not confirm within ${PUBLISH_CONFIRM_TIMEOUT_MS} ms`)),
        PUBLISH_CONFIRM_TIMEOUT_MS,
      );
      let written: boolean;
      try {
        written = channel.publish(
          exchange,
          routingKey,
          content,
          {
            persistent: true,
            mandatory: options.mandatory ?? true,
            contentType: 'application/json',
            messageId: options.messageId,
            priority: options.priority,
            type: options.type,
            headers: options.headers,
            timestamp: Math.floor(Date.now() / 1000),
          },
          (error: unknown) => {
            clearTimeout(timer);
            const returns = returned.get(options.messageId) ?? 0;
            if (returns > 0) {
              returned.set(options.messageId, returns - 1);
              reject(new MessageRejectedError(`message to ${exchange}/${routingKey} was unroutable`));
            } else if (error) {
              reject(
                new BrokerUnavailableError(`RabbitMQ did not accept the message to ${exchange}`, { cause: error }),
              );
            } else {
              resolve();
            }
          },
        );
      } catch (error) {
        clearTimeout(timer);
        reject(new BrokerUnavailableError('the publish channel is closed', { cause: error }));
        return;
      }
      if (!written && !this.drained) {
        this.drained = new Promise<void>((resume) => {
          const done = (): void => {
            this.drained = null;
            resume();
          };
          channel.once('drain', done);
          channel.once('close', done);
        });
      }
    });
  }

  private returnsOf(channel: ConfirmChannel): Map<string, number> {
    let returns = this.returned.get(channel);
    if (!returns) {
      const map = new Map<string, number>();
      channel.on('return', (message: Message) => {
        const id = String(message.properties.messageId);
        map.set(id, (map.get(id) ?? 0) + 1);
        // Every queue a message can go to is declared by every app: unroutable means the broker
        // lost part of the topology (a queue deleted, a node's data wiped). Declare it again so
        // that the publisher's next try (the outbox relay, a worker's outcome retry) is routed.
        this.connection.redeclareTopology().catch(() => undefined);
      });
      this.returned.set(channel, map);
      returns = map;
    }
    return returns;
  }
}
