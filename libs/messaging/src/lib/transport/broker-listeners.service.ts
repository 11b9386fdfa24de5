import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { HealthService } from '@tasklane/observability';
import { BrokerListener, ListensToBroker } from './broker-listener.decorator';

/** Every `@ListensToBroker()` provider of the app, started and drained together. */
@Injectable()
export class BrokerListeners {
  private readonly logger = new Logger(BrokerListeners.name);
  private draining: Promise<void> | null = null;

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Optional() @Inject(HealthService) private readonly health?: HealthService,
  ) {}

  /** The listeners, in discovery order. */
  all(): BrokerListener[] {
    return this.discovery
      .getProviders({ metadataKey: ListensToBroker.KEY })
      .filter((wrapper) => wrapper.instance)
      .map((wrapper) => wrapper.instance as BrokerListener);
  }

  async listen(): Promise<void> {
    const listeners = this.all();
    for (const listener of listeners) {
      await listener.listen();
    }
    this.logger.log({
      message: 'listening on the broker',
      listeners: listeners.map((listener) => listener.constructor.name),
    });
  }

  /** Drains every listener, last started first; later calls share the first drain. */
  drain(): Promise<void> {
    this.draining ??= this.drainAll();
    return this.draining;
  }

  private async drainAll(): Promise<void> {
    // Readiness says "shutdown" for the whole drain.
    this.health?.markShuttingDown();
    for (const listener of this.all().reverse()) {
      await listener.drain?.();
    }
  }
}
