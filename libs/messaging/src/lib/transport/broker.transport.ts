import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { BrokerListeners } from './broker-listeners.service';

/**
 * The transport of the workers and the status tracker, as a Nest microservice strategy: `listen`
 * starts the app's {@link BrokerListeners} (Tasklane's own consumers: manual acks, bounded
 * prefetch, dedup by claim, dead-lettering) and `close` drains them. Nothing of Nest's RMQ
 * transport is used — no `noAck`, no default prefetch, no reply queues — so every delivery
 * guarantee stays where it is tested. `@MessagePattern`/`@EventPattern` handlers are not served.
 */
export class BrokerTransport extends Server implements CustomTransportStrategy {
  private listeners: BrokerListeners | null = null;

  /** Gives the strategy the app's listeners: it is built before the app, outside injection. */
  bind(listeners: BrokerListeners): void {
    this.listeners = listeners;
  }

  listen(callback: (error?: unknown) => void): void {
    if (this.listeners === null) {
      callback(new Error('BrokerTransport.listen before bind(): start the app with startBrokerMicroservice'));
      return;
    }
    this.listeners.listen().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  async close(): Promise<void> {
    await this.listeners?.drain();
  }

  on(): never {
    throw new Error('BrokerTransport emits no status events');
  }

  unwrap<T>(): T {
    throw new Error('BrokerTransport has no client to unwrap: use AmqpConnection');
  }
}
