import { DiscoveryService } from '@nestjs/core';

/**
 * A provider that takes messages off the broker. The {@link BrokerTransport} calls {@link listen}
 * once the app is initialised and {@link drain} first thing on shutdown, before any Nest
 * shutdown hook: the broker connection and the database are still there while it drains.
 */
export interface BrokerListener {
  /** Subscribes (through `AmqpConnection.onConnected`, so that it comes back after a reconnection). */
  listen(): Promise<void>;
  /**
   * Stops taking deliveries and settles the ones in hand (finished, or handed back to the broker).
   * Absent for a subscription that must stay until the connection closes.
   */
  drain?(): Promise<void>;
}

/**
 * Marks a provider as a {@link BrokerListener}. Listeners start in the order Nest discovers them
 * (module order, then provider order) and drain in the reverse order.
 */
export const ListensToBroker = DiscoveryService.createDecorator<void>();
