import { Global, Module } from '@nestjs/common';
import { AmqpConnection } from './amqp-connection';
import { AmqpPublisher } from './amqp-publisher';
import { TaskMessagePublisher } from './task-message.publisher';
import { BrokerReadiness } from './broker.readiness';

/** The process's RabbitMQ connection (reconnecting, topology declared) and confirmed publishers. */
@Global()
@Module({
  providers: [AmqpConnection, AmqpPublisher, TaskMessagePublisher, BrokerReadiness],
  exports: [AmqpConnection, AmqpPublisher, TaskMessagePublisher],
})
export class AmqpModule {}
