import type { Channel } from 'amqplib';
import {
  ALL_EVENTS_PATTERN,
  Exchange,
  MAX_QUEUE_PRIORITY,
  Queue,
  TASK_TYPES,
  retryDelayName,
  taskQueueName,
  taskRoutingKey,
} from '@tasklane/contracts';

/**
 * Declares every exchange, queue and binding Tasklane uses. Every app runs this on each
 * (re)connection, with identical arguments, so that no publish is ever unroutable because its
 * consumer has not started yet. Queue arguments must never change in place (RabbitMQ refuses
 * inequivalent redeclaration): a change means a new queue name and a migration.
 */
export async function assertTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(Exchange.Tasks, 'direct', { durable: true });
  await channel.assertExchange(Exchange.Events, 'topic', { durable: true });
  await channel.assertExchange(Exchange.DeadLetter, 'fanout', { durable: true });
  await channel.assertExchange(Exchange.Control, 'fanout', { durable: true });

  await channel.assertQueue(Queue.DeadLetter, { durable: true });
  await channel.bindQueue(Queue.DeadLetter, Exchange.DeadLetter, '');

  for (const type of TASK_TYPES) {
    const queue = taskQueueName(type);
    await channel.assertQueue(queue, {
      durable: true,
      maxPriority: MAX_QUEUE_PRIORITY,
      deadLetterExchange: Exchange.DeadLetter,
    });
    await channel.bindQueue(queue, Exchange.Tasks, taskRoutingKey(type));
  }

  await channel.assertQueue(Queue.StatusTracker, {
    durable: true,
    deadLetterExchange: Exchange.DeadLetter,
  });
  await channel.bindQueue(Queue.StatusTracker, Exchange.Events, ALL_EVENTS_PATTERN);
}

/**
 * Declares one retry delay level: a fanout exchange and a queue of the same name whose
 * messages expire after `delayMs` and are dead-lettered back to the tasks exchange with their
 * own routing key (the task type), so they return to the queue they came from with their
 * priority. All messages of a level share one TTL, so expiry always happens at the head.
 */
export async function assertRetryDelayLevel(channel: Channel, delayMs: number): Promise<void> {
  const name = retryDelayName(delayMs);
  await channel.assertExchange(name, 'fanout', { durable: true });
  await channel.assertQueue(name, {
    durable: true,
    messageTtl: delayMs,
    deadLetterExchange: Exchange.Tasks,
  });
  await channel.bindQueue(name, name, '');
}
