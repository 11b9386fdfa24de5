import { Inject, Injectable } from '@nestjs/common';
import {
  DeadLetterHeader,
  Exchange,
  TaskCommand,
  TaskControlMessage,
  TaskEvent,
  encodeMessage,
  eventRoutingKey,
  retryDelayName,
  taskRoutingKey,
} from '@tasklane/contracts';
import { AmqpPublisher } from './amqp-publisher';

/**
 * Publishes Tasklane's messages — task commands, retries, lifecycle events and dead letters —
 * each persistent and confirmed. The only place that knows where each kind of message goes.
 */
@Injectable()
export class TaskMessagePublisher {
  constructor(@Inject(AmqpPublisher) private readonly publisher: AmqpPublisher) {}

  /** Sends a task to its type's queue, at its priority. */
  publishCommand(command: TaskCommand): Promise<void> {
    return this.publisher.publish(Exchange.Tasks, taskRoutingKey(command.task_type), encodeMessage(command), {
      messageId: `${command.task_id}.${command.retry_count}`,
      priority: command.priority,
      type: command.task_name,
    });
  }

  /** Sends a task through the retry delay level `delayMs`; it reaches its queue again after that delay. */
  publishRetry(command: TaskCommand, delayMs: number): Promise<void> {
    return this.publisher.publish(retryDelayName(delayMs), taskRoutingKey(command.task_type), encodeMessage(command), {
      messageId: `${command.task_id}.${command.retry_count}`,
      priority: command.priority,
      type: command.task_name,
    });
  }

  publishEvent(event: TaskEvent): Promise<void> {
    return this.publisher.publish(Exchange.Events, eventRoutingKey(event.event), encodeMessage(event), {
      messageId: `${event.task_id}.${event.retry_count}.${event.event}`,
      type: event.event,
    });
  }

  /** Broadcasts a control message (e.g. cancel a running task) to every worker. */
  publishControl(message: TaskControlMessage): Promise<void> {
    return this.publisher.publish(Exchange.Control, '', encodeMessage(message), {
      messageId: `${message.task_id}.${message.type}.${message.attempt}`,
      type: message.type,
      // No worker running means nobody to tell: not an error.
      mandatory: false,
    });
  }

  /** Parks a message that cannot be processed in the dead-letter queue, with the reason. */
  publishDeadLetter(content: Buffer, reason: string, sourceQueue: string, messageId: string): Promise<void> {
    return this.publisher.publish(Exchange.DeadLetter, sourceQueue, content, {
      messageId,
      headers: { [DeadLetterHeader.Reason]: reason.slice(0, 1_000), [DeadLetterHeader.SourceQueue]: sourceQueue },
    });
  }
}
