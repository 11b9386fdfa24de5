import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { TaskCommand } from '@tasklane/contracts';
import { AmqpConnection, TaskMessagePublisher } from '@tasklane/messaging';
import { GatewayEnv } from '../../gateway.env';
import { DispatchRecorder } from '../dispatch-recorder';

/**
 * The gateway's only way onto the broker for task commands: publish a committed task's command,
 * wait for the broker's confirm and record the dispatch (batched). A command the broker does not
 * take stays in the outbox, and the status tracker's relay publishes it later.
 */
@Injectable()
export class TaskDispatcher {
  private readonly logger = new Logger(TaskDispatcher.name);

  constructor(
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(DispatchRecorder) private readonly dispatches: DispatchRecorder,
    @Inject(GatewayEnv) private readonly env: GatewayEnv,
  ) {}

  /** 503 before anything is written when RabbitMQ is known to be down; `what` ends the message. */
  requireBroker(what: string): void {
    if (!this.broker.isConnected()) {
      throw new ServiceUnavailableException(`The message broker (RabbitMQ) is unavailable; ${what}. Retry later.`);
    }
  }

  /** Fault injection for the delivery-guarantee tests: die between the commit and the publish. */
  crashIfTesting(): void {
    if (this.env.TEST_CRASH_AFTER_INSERT) {
      process.kill(process.pid, 'SIGKILL');
    }
  }

  async dispatch(command: TaskCommand): Promise<void> {
    try {
      await this.messages.publishCommand(command);
      this.dispatches.record(command.task_id);
    } catch (error) {
      this.logger.warn({
        message: 'publish failed after the commit; the outbox relay will publish the task',
        task_id: command.task_id,
        error: (error as Error).message,
      });
    }
  }
}
