import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Channel, ChannelModel, ConfirmChannel, connect } from 'amqplib';
import { retryWithBackoff, sleep } from '@tasklane/concurrency';
import { BaseEnv } from '@tasklane/config';
import { describeAmqpUrl } from './broker-errors';
import { coalesceSocketWrites } from './coalesce-socket-writes';
import { assertTopology } from './topology';

/** A queue as the broker reports it. */
export interface QueueState {
  /** Messages waiting to be delivered (delivered and unacknowledged ones are not counted). */
  ready: number;
  consumers: number;
}

/** AMQP reply code of a missing queue or exchange. */
const NOT_FOUND = 404;

/** Runs on every (re)connection, after the topology is declared; sets up channels and consumers. */
export type ConnectedListener = (connection: ChannelModel) => Promise<void>;

/** Declares exchanges/queues on every (re)connection, before anything is published or consumed. */
export type TopologySetup = (channel: Channel) => Promise<void>;

const RECONNECT_MIN_DELAY_MS = 250;
/** Least time between two re-declarations of the topology on one connection (see {@link AmqpConnection.redeclareTopology}). */
const REDECLARE_MIN_INTERVAL_MS = 1_000;
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
  /** The re-declaration under way, shared by everyone who asks meanwhile. */
  private redeclaring: Promise<void> | null = null;
  private lastRedeclaredAt = 0;

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

  /**
   * Declares the whole topology again on the current connection: after a queue or exchange was
   * deleted under a live connection (an operator's mistake, a node that lost its data), so that
   * consumers can resubscribe and publishes are routed again. Concurrent calls share one
   * declaration, and declarations are at least a second apart. Rejects while disconnected (the
   * reconnection declares everything anyway).
   */
  redeclareTopology(): Promise<void> {
    this.redeclaring ??= this.redeclare().finally(() => {
      this.redeclaring = null;
    });
    return this.redeclaring;
  }

  private async redeclare(): Promise<void> {
    const wait = this.lastRedeclaredAt + REDECLARE_MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      await sleep(wait);
    }
    const connection = this.connection;
    if (!connection) {
      throw new Error(`not connected to RabbitMQ at ${this.where}`);
    }
    this.lastRedeclaredAt = Date.now();
    await this.declareTopology(connection);
    this.logger.warn({ message: 'topology declared again (a queue or exchange had gone)', broker: this.where });
  }

  private async declareTopology(connection: ChannelModel): Promise<void> {
    const setup = await connection.createChannel();
    setup.on('error', () => undefined);
    try {
      for (const declare of this.topologies) {
        await declare(setup);
      }
    } finally {
      await setup.close().catch(() => undefined);
    }
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
    const state = await this.queueState(queue);
    if (state === 'missing') {
      throw new Error(`queue ${queue} does not exist`);
    }
    return state?.ready ?? null;
  }

  /**
   * What the broker says of `queue`: messages ready (not counting those delivered and not yet
   * acknowledged) and consumers; 'missing' when it has no such queue; null while disconnected.
   */
  async queueState(queue: string): Promise<QueueState | 'missing' | null> {
    const connection = this.connection;
    if (!connection) {
      return null;
    }
    // A channel of its own: asking for a missing queue closes the channel that asked.
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      return { ready: messageCount, consumers: consumerCount };
    } catch (error) {
      if ((error as { code?: unknown }).code === NOT_FOUND) {
        return 'missing';
      }
      throw error;
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
      await sleep(50);
    }
  }

  /** Connects (retrying with backoff), stays until the connection drops, and connects again. */
  private async run(): Promise<void> {
    while (!this.closing) {
      let closed: Promise<void>;
      try {
        ({ closed } = await retryWithBackoff(() => this.connectOnce(), {
          minDelayMs: RECONNECT_MIN_DELAY_MS,
          maxDelayMs: RECONNECT_MAX_DELAY_MS,
          retryIf: () => !this.closing,
          stopIf: () => this.closing,
          sleep: (ms) => this.sleepUnlessClosing(ms),
          onRetry: (error, delay, attempt) =>
            this.logger.warn({
              message: `RabbitMQ at ${this.where} unreachable; retrying in ${delay} ms`,
              attempt,
              error: (error as Error).message,
            }),
        }));
      } catch {
        return; // shutdown began while (re)connecting
      }
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
      await this.declareTopology(connection);
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
      // A snapshot: a listener registered meanwhile runs once, from onConnected, not twice.
      for (const listener of [...this.listeners]) {
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

  /** Waits `ms`, or less when shutdown begins meanwhile. */
  private sleepUnlessClosing(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
