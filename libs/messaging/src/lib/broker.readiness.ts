import { Inject } from '@nestjs/common';
import { ProvidesReadiness, ReadinessCheck } from '@tasklane/observability';
import { AmqpConnection } from './amqp-connection';

/** Ready while connected to RabbitMQ (topology declared, publish channel open). */
@ProvidesReadiness()
export class BrokerReadiness implements ReadinessCheck {
  readonly name = 'rabbitmq';

  constructor(@Inject(AmqpConnection) private readonly connection: AmqpConnection) {}

  isReady(): boolean {
    return this.connection.isConnected();
  }
}
