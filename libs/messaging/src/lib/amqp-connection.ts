import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Channel, ChannelModel, ConfirmChannel, connect } from 'amqplib';
import { BaseEnv } from '@tasklane/config';
import { describeAmqpUrl } from './broker-errors';
import { coalesceSocketWrites } from './coalesce-socket-writes';
import { assertTopology } from './topology';

/** Runs on every (re)connection, after the topology is declared; sets up channels and consumers. */
export type ConnectedListener = (connection: ChannelModel) => Promise<void>;

/** Declares exchanges/queues on every (re)connection, before anything is published or consumed. */
export type TopologySetup = (channel: Channel) => Promise<void>;

const RECONNECT_MIN_DELAY_MS = 250;
const RECONNECT_MAX_DELAY_MS = 5_000;
const HEARTBEAT_SECONDS = 10;

/**
 * One AMQP connection per process, reconnected with backoff whenever it drops. It declares the
 * topology on each connection, keeps one confirm channel for publishing, and replays registered
 * listeners so that consumers come back by themselves. Nothing is buffered while disconnected:
 * callers see {@link isConnected} false and fail fast.
 */
@Injectable()
export class AmqpConnection implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AmqpConnection.name);
  private readonly listeners: ConnectedListener[] = [];
  private readonly topologies: TopologySetup[] = [assertTopology];
  private connection: ChannelModel | null = null;
  private publishChannel: ConfirmChannel | null = null;
  private closing = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly where: string;

  constructor(@Inject(BaseEnv) private readonly env: BaseEnv) {
    this.where = describeAmqpUrl(env.AMQP_URL);
  }

  onModuleInit(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.wakeUp?.();
    const connection = this.connection;
    this.connection = null;
    this.publishChannel = null;
    if (connection) {
      await connection.close().catch(() => undefined);
    }
    await this.loop;
  }

  isConnected(): boolean {
    return this.publishChannel !== null;
  }

  /** The channel publishes go through, or null while disconnected. */
  confirmChannel(): ConfirmChannel | null {
    return this.publishChannel;
  }

  /**
   * Adds declarations to the topology. Call it from a provider's constructor, so that it is in
   * place before the first connection declares the topology.
   */
  addTopology(setup: TopologySetup): void {
    this.topologies.push(setup);
  }

  /** Registers a listener and, if connected now, runs it at once. */
  async onConnected(listener: ConnectedListener): Promise<void> {
    this.listeners.push(listener);
    if (this.connection && this.publishChannel) {
      await listener(this.connection);
    }
  }

  /** Messages ready in `queue` (not counting those delivered and unacknowledged), or null while disconnected. */
  async readyMessages(queue: string): Promise<number | null> {
    const connection = this.connection;
    if (!connection) {
      return null;
    }
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Resolves once connected (or rejects after `timeoutMs`). */
  async waitUntilConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isConnected()) {
      if (Date.now() > deadline) {
        throw new Error(`RabbitMQ at ${this.where} not reachable within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async run(): Promise<void> {
    let delay = RECONNECT_MIN_DELAY_MS;
    let attempt = 0;
    while (!this.closing) {
      attempt += 1;
      try {
        const { closed } = await this.connectOnce();
        delay = RECONNECT_MIN_DELAY_MS;
        attempt = 0;
        if (this.closing) {
          // Shutdown began while connecting, so it found no connection to close: close this one.
          const connection = this.connection;
          this.connection = null;
          this.publishChannel = null;
          await connection?.close().catch(() => undefined);
        }
        await closed;
        if (this.closing) {
          return;
        }
        this.logger.warn({ message: 'connection to RabbitMQ lost; reconnecting', broker: this.where });
      } catch (error) {
        if (this.closing) {
          return;
        }
        this.logger.warn({
          message: `RabbitMQ at ${this.where} unreachable; retrying in ${delay} ms`,
          attempt,
          error: (error as Error).message,
        });
        await this.sleep(delay);
        delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS);
      }
    }
  }

  /** Connects, declares topology, replays listeners; `closed` settles when the connection drops. */
  private async connectOnce(): Promise<{ closed: Promise<void> }> {
    const url = new URL(this.env.AMQP_URL);
    url.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS));
    const connection = await connect(url.toString(), { timeout: 5_000 });
    if (!coalesceSocketWrites(connection)) {
      this.logger.warn({ message: 'RabbitMQ socket writes are not coalesced (unexpected amqplib internals)' });
    }
    const closed = new Promise<void>((resolve) => {
      connection.on('close', () => resolve());
      connection.on('error', (error: Error) =>
        this.logger.warn({ message: 'RabbitMQ connection error', error: error.message }),
      );
    });
    connection.on('blocked', (reason: string) =>
      this.logger.warn({ message: 'RabbitMQ blocked publishing (resource alarm)', reason }),
    );
    connection.on('unblocked', () => this.logger.log({ message: 'RabbitMQ unblocked publishing' }));
    try {
      const setup = await connection.createChannel();
      for (const declare of this.topologies) {
        await declare(setup);
      }
      await setup.close();
      const publishChannel = await connection.createConfirmChannel();
      publishChannel.on('error', (error: Error) =>
        this.logger.warn({ message: 'publish channel error', error: error.message }),
      );
      publishChannel.on('close', () => {
        if (this.publishChannel === publishChannel) {
          this.publishChannel = null;
          // A publish channel closed by the broker (e.g. a 404 on publish) takes the connection with it,
          // so that everything is re-established in one place.
          connection.close().catch(() => undefined);
        }
      });
      this.connection = connection;
      this.publishChannel = publishChannel;
      for (const listener of this.listeners) {
        await listener(connection);
      }
      this.logger.log({ message: 'connected to RabbitMQ', broker: this.where });
    } catch (error) {
      this.publishChannel = null;
      this.connection = null;
      await connection.close().catch(() => undefined);
      throw error;
    }
    return {
      closed: closed.then(() => {
        if (this.connection === connection) {
          this.connection = null;
          this.publishChannel = null;
        }
      }),
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
