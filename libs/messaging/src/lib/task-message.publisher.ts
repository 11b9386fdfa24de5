import { Inject, Injectable } from '@nestjs/common';
import { Batcher } from '@tasklane/concurrency';
import {
  AGED_QUEUE_PRIORITY,
  DeadLetterHeader,
  Exchange,
  TaskCommand,
  TaskControlMessage,
  TaskEvent,
  TaskEventType,
  brokerPriorityOf,
  encodeEvents,
  encodeMessage,
  eventRoutingKey,
  retryDelayName,
  taskRoutingKey,
} from '@tasklane/contracts';
import { AmqpPublisher } from './amqp-publisher';

/** Most events of one type published as one message. */
const EVENT_GROUP_MAX = 256;

/**
 * Publishes Tasklane's messages — task commands, retries, lifecycle events and dead letters —
 * each persistent and confirmed. The only place that knows where each kind of message goes.
 */
@Injectable()
export class TaskMessagePublisher {
  private readonly eventGroups = new Map<TaskEventType, Batcher<TaskEvent, void>>();

  constructor(@Inject(AmqpPublisher) private readonly publisher: AmqpPublisher) {}

  /**
   * Sends a task to its type's queue, at its priority — or, `aged`, above every priority: it has
   * waited longer than the aging bound (ADR 0015).
   */
  publishCommand(command: TaskCommand, options: { aged?: boolean } = {}): Promise<void> {
    return this.publisher.publish(Exchange.Tasks, taskRoutingKey(command.task_type), encodeMessage(command), {
      messageId: `${command.task_id}.${command.retry_count}`,
      priority: options.aged === true ? AGED_QUEUE_PRIORITY : brokerPriorityOf(command.priority),
      type: command.task_name,
    });
  }

  /** Sends a task through the retry delay level `delayMs`; it reaches its queue again after that delay. */
  publishRetry(command: TaskCommand, delayMs: number): Promise<void> {
    return this.publisher.publish(retryDelayName(delayMs), taskRoutingKey(command.task_type), encodeMessage(command), {
      messageId: `${command.task_id}.${command.retry_count}`,
      priority: brokerPriorityOf(command.priority),
      type: command.task_name,
    });
  }

  /**
   * Publishes a lifecycle event; resolves once the broker confirmed it. Events of one type
   * published while an earlier message of theirs awaits its confirm travel together as the next
   * message (ADR 0008): alone under light load, in groups under heavy load — one publish, one
   * confirm, one delivery and one ack for the whole group.
   */
  publishEvent(event: TaskEvent): Promise<void> {
    return this.eventGroupOf(event.event).add(event);
  }

  private eventGroupOf(type: TaskEventType): Batcher<TaskEvent, void> {
    const existing = this.eventGroups.get(type);
    if (existing) {
      return existing;
    }
    const group = new Batcher<TaskEvent, void>(
      async (events) => {
        await this.publishEventGroup(type, events);
        return events.map(() => undefined);
      },
      { maxInFlight: 2, maxSize: EVENT_GROUP_MAX, maxWaitMs: 0 },
    );
    this.eventGroups.set(type, group);
    return group;
  }

  private publishEventGroup(type: TaskEventType, events: readonly TaskEvent[]): Promise<void> {
    const [first] = events;
    const others = events.length > 1 ? `+${events.length - 1}` : '';
    return this.publisher.publish(Exchange.Events, eventRoutingKey(type), encodeEvents(events), {
      messageId: `${first.task_id}.${first.retry_count}.${type}${others}`,
      type,
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
