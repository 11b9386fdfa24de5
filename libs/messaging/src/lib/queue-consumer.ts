import { Logger } from '@nestjs/common';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { sleep } from '@tasklane/concurrency';
import { AmqpConnection } from './amqp-connection';

/** One message as delivered on one channel; ack/nack go back to that channel. */
export class Delivery {
  private settled = false;

  constructor(
    readonly message: ConsumeMessage,
    private readonly channel: Channel,
  ) {}

  /** Acknowledges; a no-op (logged by the caller's redelivery) when the channel is gone. */
  ack(): boolean {
    return this.settle(() => this.channel.ack(this.message));
  }

  nack(requeue: boolean): boolean {
    return this.settle(() => this.channel.nack(this.message, false, requeue));
  }

  private settle(operation: () => void): boolean {
    if (this.settled) {
      return false;
    }
    this.settled = true;
    try {
      operation();
      return true;
    } catch {
      // The channel closed: the broker requeues the message and delivers it again.
      return false;
    }
  }
}

export interface QueueConsumerOptions {
  queue: string;
  /** Unacknowledged deliveries at a time; for workers, equal to their concurrency. */
  prefetch: number;
  /** Processes one delivery and settles it (ack or nack). Must not throw. */
  handle: (delivery: Delivery) => Promise<void>;
}

const UNEXPECTED_ERROR_REQUEUE_DELAY_MS = 1_000;
const RESUBSCRIBE_DELAY_MS = 500;

/**
 * Consumes a queue with manual acknowledgements and a per-consumer prefetch, resubscribes after
 * every reconnection, and on {@link stop} stops taking deliveries, lets in-flight work finish
 * within a grace period, then closes its channel so the broker requeues whatever is unfinished.
 */
export class QueueConsumer {
  private readonly logger = new Logger(QueueConsumer.name);
  private readonly inFlight = new Set<Promise<void>>();
  private channel: Channel | null = null;
  private consumerTag: string | null = null;
  private stopping = false;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly options: QueueConsumerOptions,
  ) {}

  async start(): Promise<void> {
    await this.connection.onConnected((connection) => this.subscribe(connection));
  }

  isConsuming(): boolean {
    return this.consumerTag !== null;
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking work, waits up to `graceMs` for in-flight deliveries, then calls
   * `onGraceExpired` (if work is still in flight) and closes the channel, which hands every
   * unacknowledged delivery back to the broker.
   */
  async stop(graceMs: number, onGraceExpired?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    const channel = this.channel;
    if (channel && this.consumerTag) {
      await channel.cancel(this.consumerTag).catch(() => undefined);
      this.consumerTag = null;
    }
    if (this.inFlight.size > 0) {
      this.logger.log({
        message: 'draining in-flight deliveries',
        queue: this.options.queue,
        in_flight: this.inFlight.size,
      });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), graceMs);
      });
      const outcome = await Promise.race([Promise.allSettled([...this.inFlight]).then(() => 'drained'), expired]);
      clearTimeout(timer);
      if (outcome === 'expired') {
        this.logger.warn({
          message: 'grace period over; handing unfinished deliveries back to the broker',
          queue: this.options.queue,
          in_flight: this.inFlight.size,
        });
        await onGraceExpired?.();
      }
    }
    this.channel = null;
    if (channel) {
      await channel.close().catch(() => undefined);
    }
  }

  private async subscribe(connection: ChannelModel): Promise<void> {
    if (this.stopping) {
      return;
    }
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) =>
      this.logger.warn({ message: 'consumer channel error', queue: this.options.queue, error: error.message }),
    );
    channel.on('close', () => {
      if (this.channel === channel) {
        this.channel = null;
        this.consumerTag = null;
        // Closed by the broker while the connection stays up (e.g. a consumer_timeout, a
        // cancelled consumer): subscribe again. If the connection went down, the reconnection
        // subscribes instead and this attempt fails harmlessly.
        if (!this.stopping) {
          setTimeout(() => this.resubscribe(connection), RESUBSCRIBE_DELAY_MS);
        }
      }
    });
    await channel.prefetch(this.options.prefetch, false);
    this.channel = channel;
    const reply = await channel.consume(
      this.options.queue,
      (message) => {
        if (message === null) {
          // Cancelled by the broker (queue deleted): close the channel, which resubscribes.
          this.logger.warn({ message: 'consumer cancelled by the broker', queue: this.options.queue });
          channel.close().catch(() => undefined);
          return;
        }
        this.track(new Delivery(message, channel));
      },
      { noAck: false },
    );
    this.consumerTag = reply.consumerTag;
    this.logger.log({ message: 'consuming', queue: this.options.queue, prefetch: this.options.prefetch });
  }

  /**
   * Subscribes again on the same connection after the broker closed the channel or cancelled the
   * consumer. The topology is declared first: a consumer is cancelled when its queue is deleted,
   * and consuming a queue that no longer exists would fail forever.
   */
  private resubscribe(connection: ChannelModel): void {
    if (this.stopping || this.channel !== null) {
      return;
    }
    this.connection
      .redeclareTopology()
      .then(() => this.subscribe(connection))
      .catch((error: unknown) =>
        this.logger.warn({
          message: 'could not resubscribe on this connection; waiting for the next one',
          queue: this.options.queue,
          error: (error as Error).message,
        }),
      );
  }

  private track(delivery: Delivery): void {
    const work = this.options.handle(delivery).catch(async (error: unknown) => {
      this.logger.error({
        message: 'unexpected error while handling a delivery; requeueing it',
        queue: this.options.queue,
        error: (error as Error).message,
      });
      await sleep(UNEXPECTED_ERROR_REQUEUE_DELAY_MS);
      delivery.nack(true);
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}
