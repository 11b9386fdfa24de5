import { Test, TestingModule } from '@nestjs/testing';
import { Channel, ChannelModel, connect } from 'amqplib';
import { BaseEnv, ConfigModule } from '@tasklane/config';
import {
  AGED_QUEUE_PRIORITY,
  Exchange,
  MAX_QUEUE_PRIORITY,
  Queue,
  TASK_TYPES,
  TaskCommand,
  TaskEvent,
  TaskEventType,
  TaskName,
  TaskType,
  brokerPriorityOf,
  decodeTaskEvents,
  eventRoutingKey,
  newTaskId,
  taskQueueName,
} from '@tasklane/contracts';
import { TestVhost, createTestVhost, waitFor } from '@tasklane/testing';
import { AmqpConnection } from './amqp-connection';
import { AmqpModule } from './amqp.module';
import { AmqpPublisher } from './amqp-publisher';
import { BrokerUnavailableError, MessageRejectedError } from './broker-errors';
import { TaskMessagePublisher } from './task-message.publisher';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const EMAIL_QUEUE = taskQueueName(TaskType.Email);

interface StartedApp {
  app: TestingModule;
  connection: AmqpConnection;
  publisher: AmqpPublisher;
  messages: TaskMessagePublisher;
}

async function startApp(amqpUrl: string): Promise<StartedApp> {
  const app = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(BaseEnv, { AMQP_URL: amqpUrl, LOG_LEVEL: 'warn' }), AmqpModule],
  }).compile();
  app.useLogger(['error', 'warn']);
  await app.init();
  return {
    app,
    connection: app.get(AmqpConnection),
    publisher: app.get(AmqpPublisher),
    messages: app.get(TaskMessagePublisher),
  };
}

function command(overrides: Partial<TaskCommand> = {}): TaskCommand {
  return {
    task_id: newTaskId(),
    task_name: TaskName.EmailSend,
    task_type: TaskType.Email,
    params: { to: 'someone@example.com', subject: 'hi', body: 'hello' },
    priority: 5,
    max_retries: 3,
    retry_count: 0,
    ...overrides,
  } as TaskCommand;
}

describe('AmqpPublisher / topology (RabbitMQ)', () => {
  let vhost: TestVhost;
  let started: StartedApp;
  let broker: ChannelModel;
  let channel: Channel;

  beforeAll(async () => {
    vhost = await createTestVhost('publisher');
    started = await startApp(vhost.url);
    await started.connection.waitUntilConnected(10_000);
    broker = await connect(vhost.url);
    channel = await broker.createChannel();
  });

  afterAll(async () => {
    await channel?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    await started?.app.close();
    await vhost?.delete();
  });

  beforeEach(async () => {
    await channel.purgeQueue(EMAIL_QUEUE);
  });

  describe('topology', () => {
    it('declares a durable priority queue (x-max-priority 10) per task type, bound to tasklane.tasks', async () => {
      const queues = new Map(
        (
          await vhost.list<{ name: string; durable: boolean; arguments: Array<[string, string, unknown]> }>('queues', [
            'name',
            'durable',
            'arguments',
          ])
        ).map((queue) => [
          queue.name,
          { durable: queue.durable, args: Object.fromEntries(queue.arguments.map(([key, , value]) => [key, value])) },
        ]),
      );
      for (const type of TASK_TYPES) {
        expect(queues.get(taskQueueName(type))).toEqual({
          durable: true,
          args: { 'x-max-priority': 10, 'x-dead-letter-exchange': Exchange.DeadLetter },
        });
      }
      expect(queues.get(Queue.StatusTracker)).toEqual({
        durable: true,
        args: { 'x-dead-letter-exchange': Exchange.DeadLetter },
      });
      expect(queues.get(Queue.DeadLetter)).toEqual({ durable: true, args: {} });

      const routes = (
        await vhost.list<{ source_name: string; destination_name: string; routing_key: string }>('bindings', [
          'source_name',
          'destination_name',
          'routing_key',
        ])
      )
        .filter((binding) => binding.source_name !== '')
        .map((binding) => `${binding.source_name} -[${binding.routing_key}]-> ${binding.destination_name}`)
        .sort();
      expect(routes).toEqual(
        [
          ...TASK_TYPES.map((type) => `${Exchange.Tasks} -[${type}]-> ${taskQueueName(type)}`),
          `${Exchange.Events} -[task.*]-> ${Queue.StatusTracker}`,
          `${Exchange.DeadLetter} -[]-> ${Queue.DeadLetter}`,
        ].sort(),
      );
    });

    it('delivers a backlog highest priority first, an aged command before all of them', async () => {
      const priorities = [1, 5, 10, 3, 7, 2];
      for (const priority of priorities) {
        await started.messages.publishCommand(command({ priority }));
      }
      const aged = command({ priority: 1 });
      await started.messages.publishCommand(aged, { aged: true });
      const delivered: Array<{ task: number; broker: number }> = [];
      for (let index = 0; index <= priorities.length; index += 1) {
        const message = await channel.get(EMAIL_QUEUE, { noAck: true });
        if (message === false) {
          throw new Error('queue empty too early');
        }
        const task = (JSON.parse(message.content.toString()) as TaskCommand).priority;
        delivered.push({ task, broker: message.properties.priority as number });
      }
      // Priorities 1..10 travel as 0..9; the top level (10) is the aged one's.
      expect(delivered).toEqual([
        { task: 1, broker: AGED_QUEUE_PRIORITY },
        ...[10, 7, 5, 3, 2, 1].map((task) => ({ task, broker: task - 1 })),
      ]);
      expect(AGED_QUEUE_PRIORITY).toBe(MAX_QUEUE_PRIORITY);
    });
  });

  describe('publish', () => {
    it('resolves once confirmed, with the message then in its queue: persistent and at its priority', async () => {
      const sent = command({ priority: 8, retry_count: 1 });
      await started.messages.publishCommand(sent);

      // No waiting: a confirmed message is already enqueued.
      const { messageCount } = await channel.checkQueue(EMAIL_QUEUE);
      expect(messageCount).toBe(1);

      const message = await channel.get(EMAIL_QUEUE, { noAck: true });
      if (message === false) {
        throw new Error('no message in the queue');
      }
      expect(JSON.parse(message.content.toString())).toEqual(sent);
      expect(message.fields).toMatchObject({
        exchange: Exchange.Tasks,
        routingKey: TaskType.Email,
        redelivered: false,
      });
      expect(message.properties).toMatchObject({
        deliveryMode: 2,
        priority: brokerPriorityOf(8),
        contentType: 'application/json',
        messageId: `${sent.task_id}.1`,
        type: TaskName.EmailSend,
      });
      expect(typeof message.properties.timestamp).toBe('number');
    });

    it('publishes many messages concurrently, each confirmed', async () => {
      await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          started.messages.publishCommand(command({ priority: 1 + (index % 10) })),
        ),
      );
      expect((await channel.checkQueue(EMAIL_QUEUE)).messageCount).toBe(200);
    });

    it('sends events of one type published together as few messages, each event confirmed and delivered once', async () => {
      await channel.purgeQueue(Queue.StatusTracker);
      const event = (type: TaskEventType): TaskEvent =>
        ({
          event: type,
          task_id: newTaskId(),
          task_name: TaskName.EmailSend,
          task_type: TaskType.Email,
          retry_count: 0,
          attempt: 1,
          occurred_at: new Date().toISOString(),
          ...(type === TaskEventType.Succeeded ? { result: null } : {}),
        }) as TaskEvent;
      // Alone: nothing else is on its way, so it goes at once, as a single event (a JSON object).
      const lone = event(TaskEventType.Started);
      await started.messages.publishEvent(lone);
      const single = await channel.get(Queue.StatusTracker, { noAck: true });
      expect(single && JSON.parse(single.content.toString())).toEqual(lone);

      const sent = [
        ...Array.from({ length: 300 }, () => event(TaskEventType.Started)),
        ...Array.from({ length: 20 }, () => event(TaskEventType.Succeeded)),
      ];
      await Promise.all(sent.map((each) => started.messages.publishEvent(each)));

      const received: TaskEvent[] = [];
      let messages = 0;
      for (;;) {
        const message = await channel.get(Queue.StatusTracker, { noAck: true });
        if (message === false) {
          break;
        }
        messages += 1;
        const decoded = decodeTaskEvents(message.content);
        if (!decoded.ok) {
          throw new Error(decoded.reason);
        }
        for (const each of decoded.events) {
          if (!each.ok) {
            throw new Error(each.reason);
          }
          // Routed and typed by the type of the events it carries, all alike.
          expect(message.fields.routingKey).toBe(eventRoutingKey(each.value.event));
          expect(message.properties).toMatchObject({ deliveryMode: 2, type: each.value.event });
          received.push(each.value);
        }
      }
      expect(received).toHaveLength(sent.length);
      expect(new Set(received.map((each) => each.task_id))).toEqual(new Set(sent.map((each) => each.task_id)));
      expect(messages).toBeLessThan(sent.length / 4);
    });

    it('rejects with MessageRejectedError when no queue is bound to the route (mandatory + return)', async () => {
      const sending = started.publisher.publish(Exchange.Tasks, 'no-such-task-type', Buffer.from('{}'), {
        messageId: 'unroutable-1',
      });
      await expect(sending).rejects.toBeInstanceOf(MessageRejectedError);
      await expect(sending).rejects.toThrow(/unroutable/);

      // The channel survives: routable and unroutable publishes, interleaved, each get their own answer.
      const outcomes = await Promise.allSettled([
        started.messages.publishCommand(command()),
        started.publisher.publish(Exchange.Tasks, 'nowhere', Buffer.from('{}'), { messageId: 'unroutable-2' }),
        started.messages.publishCommand(command()),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(MessageRejectedError);
      expect((await channel.checkQueue(EMAIL_QUEUE)).messageCount).toBe(2);
      expect(started.connection.isConnected()).toBe(true);
    });

    it('does not resolve a publish the broker negatively confirms', async () => {
      // A queue that refuses every message: the broker answers basic.nack.
      await channel.assertExchange('test.full', 'direct', { durable: false, autoDelete: false });
      await channel.assertQueue('test.full', {
        durable: false,
        arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
      });
      await channel.bindQueue('test.full', 'test.full', 'full');

      const sending = started.publisher.publish('test.full', 'full', Buffer.from('{}'), { messageId: 'nacked-1' });
      const error = await sending.then(
        () => null,
        (reason: unknown) => reason,
      );
      // Either class means "not accepted"; the publisher currently reports a nack as BrokerUnavailableError.
      expect(error instanceof BrokerUnavailableError || error instanceof MessageRejectedError).toBe(true);
      expect(started.connection.isConnected()).toBe(true);
    });

    it('rejects with BrokerUnavailableError when the exchange does not exist, then reconnects by itself', async () => {
      const sending = started.publisher.publish('no.such.exchange', 'x', Buffer.from('{}'), { messageId: 'lost-1' });
      await expect(sending).rejects.toBeInstanceOf(BrokerUnavailableError);

      await started.connection.waitUntilConnected(10_000);
      const sent = command();
      await waitFor('a publish after the reconnection', async () => {
        try {
          await started.messages.publishCommand(sent);
          return true;
        } catch (error) {
          if (error instanceof BrokerUnavailableError) {
            return false;
          }
          throw error;
        }
      });
      expect((await channel.checkQueue(EMAIL_QUEUE)).messageCount).toBeGreaterThanOrEqual(1);
    });
  });
});

describe('AmqpPublisher when the broker lost part of the topology', () => {
  it('rejects a command to a deleted queue as unroutable, and the queue is declared again for the next try', async () => {
    const vhost = await createTestVhost('publisher-lost-queue');
    const app = await startApp(vhost.url);
    const broker = await connect(vhost.url);
    try {
      await app.connection.waitUntilConnected(10_000);
      const channel = await broker.createChannel();
      await channel.deleteQueue(EMAIL_QUEUE);
      await expect(app.messages.publishCommand(command())).rejects.toBeInstanceOf(MessageRejectedError);
      await waitFor(
        'the queue to be declared again',
        async () => {
          const check = await broker.createChannel();
          check.on('error', () => undefined);
          return check
            .checkQueue(EMAIL_QUEUE)
            .then(() => check.close().then(() => true))
            .catch(() => false);
        },
        { timeoutMs: 10_000 },
      );
      // With its priority: the same arguments as every app declares.
      await app.messages.publishCommand(command({ priority: 9 }));
      expect((await channel.checkQueue(EMAIL_QUEUE)).messageCount).toBe(1);
      const message = await channel.get(EMAIL_QUEUE, { noAck: true });
      expect(message && message.properties.priority).toBe(brokerPriorityOf(9));
      await channel.close();
    } finally {
      await broker.close().catch(() => undefined);
      await app.app.close();
      await vhost.delete().catch(() => undefined);
    }
  });
});

describe('AmqpPublisher while disconnected', () => {
  it('rejects with BrokerUnavailableError at once when the broker cannot be reached', async () => {
    // Nothing listens on port 1: the connection loop keeps retrying in the background.
    const unreachable = await startApp('amqp://guest:guest@127.0.0.1:1/none');
    try {
      expect(unreachable.connection.isConnected()).toBe(false);
      const before = Date.now();
      await expect(unreachable.messages.publishCommand(command())).rejects.toBeInstanceOf(BrokerUnavailableError);
      await expect(
        unreachable.publisher.publish(Exchange.Events, 'task.started', Buffer.from('{}'), { messageId: 'x' }),
      ).rejects.toThrow(/not connected/);
      expect(Date.now() - before).toBeLessThan(200);
      await expect(unreachable.connection.waitUntilConnected(300)).rejects.toThrow(/not reachable/);
    } finally {
      await unreachable.app.close();
    }
  });

  it('rejects at once while the broker connection is down, and publishes again once reconnected', async () => {
    const vhost = await createTestVhost('publisher-down');
    const app = await startApp(vhost.url);
    try {
      await app.connection.waitUntilConnected(10_000);
      await app.messages.publishCommand(command());

      // Delete the vhost under the live connection: the broker closes it and reconnecting fails.
      await vhost.delete();
      await waitFor('the connection to drop', () => !app.connection.isConnected(), { timeoutMs: 10_000 });
      const before = Date.now();
      await expect(app.messages.publishCommand(command())).rejects.toBeInstanceOf(BrokerUnavailableError);
      expect(Date.now() - before).toBeLessThan(200);

      // Restore it (same name): the connection comes back by itself and redeclares the topology.
      await vhost.recreate();
      await app.connection.waitUntilConnected(15_000);
      await app.messages.publishCommand(command());
      const broker = await connect(vhost.url);
      try {
        const channel = await broker.createChannel();
        expect((await channel.checkQueue(EMAIL_QUEUE)).messageCount).toBe(1);
        await channel.close();
      } finally {
        await broker.close();
      }
    } finally {
      await app.app.close();
      await vhost.delete().catch(() => undefined);
    }
  });
});
