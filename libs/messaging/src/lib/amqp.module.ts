import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AmqpConnection } from './amqp-connection';
import { AmqpPublisher } from './amqp-publisher';
import { TaskMessagePublisher } from './task-message.publisher';
import { BrokerReadiness } from './broker.readiness';
import { BrokerListeners } from './transport/broker-listeners.service';

/**
 * The process's RabbitMQ connection (reconnecting, topology declared), confirmed publishers, and
 * the app's `@ListensToBroker()` consumers for the {@link BrokerTransport}.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [AmqpConnection, AmqpPublisher, TaskMessagePublisher, BrokerReadiness, BrokerListeners],
  exports: [AmqpConnection, AmqpPublisher, TaskMessagePublisher, BrokerListeners],
})
export class AmqpModule {}
