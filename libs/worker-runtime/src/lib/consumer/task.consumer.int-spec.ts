import { INestMicroservice, Injectable, Provider } from '@nestjs/common';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, TestingModule } from '@nestjs/testing';
import { ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage, connect } from 'amqplib';
import { DataSource } from 'typeorm';
import { ConfigModule } from '@tasklane/config';
import {
  ALL_EVENTS_PATTERN,
  DeadLetterHeader,
  EmailDelivery,
  Exchange,
  Queue,
  SendEmailParams,
  SendEmailResult,
  TaskCommand,
  TaskControlType,
  TaskEvent,
  TaskEventType,
  TaskName,
  TaskStatus,
  TaskType,
  brokerPriorityOf,
  decodeTaskEvents,
  newTaskId,
  retryDelayName,
  taskQueueName,
  taskRoutingKey,
} from '@tasklane/contracts';
import {
  AmqpConnection,
  TaskMessagePublisher,
  assertRetryDelayLevel,
  listenOnBroker,
  assertTopology,
  retryDelayLevels,
} from '@tasklane/messaging';
import {
  BackgroundTask,
  TaskRepositories,
  createTaskRepositories,
  NewTask,
  dataSourceOptions,
  migrateUp,
} from '@tasklane/persistence';
import { Delivery, readDelivery, readTask } from '@tasklane/persistence/testing';
import { TestDatabase, TestVhost, createTestDatabase, createTestVhost, waitFor } from '@tasklane/testing';
import { HandlesTask, PermanentTaskError, TaskContext } from '../handlers/task-handler';
import { HandlerRegistrationError } from '../handlers/task-handler.registry';
import { WorkerRuntimeModule } from '../worker-runtime.module';
import { WorkerEnv } from '../worker.env';
import { TaskCancelledError, TaskTimeoutError } from '../lifecycle/abort';
import { TaskConsumer } from './task.consumer';

// Real services (rabbitmqctl, vhost and database set-up, retries through TTL queues) need time.
jest.setTimeout(60_000);

const EMAIL_QUEUE = taskQueueName(TaskType.Email);
const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 400;
const RETRY_LEVELS = retryDelayLevels(RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS);
/** The test's own queues: copies of every lifecycle event, and of every message sent to a retry delay level. */
const EVENTS_SPY_QUEUE = 'test.events-spy';
const RETRIES_SPY_QUEUE = 'test.retries-spy';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface HandlerCall {
  params: SendEmailParams;
  context: TaskContext;
}

/**
 * The worker's email.send handler, driven by the subject: `throw` fails (a retryable error),
 * `permanent` fails permanently, `slow <ms>` takes that long (honouring the abort signal),
 * `stubborn <ms>` takes that long ignoring the abort signal, anything else succeeds at once.
 * Every call is recorded.
 */
@Injectable()
class RecordingEmailHandler {
  readonly calls: HandlerCall[] = [];
  /** Caps `slow <ms>`: a successor worker set to 0 finishes a handed-back slow task at once. */
  maxSlowMs = Number.POSITIVE_INFINITY;
  /** Task ids of the `stubborn <ms>` calls that ran to their end. */
  readonly stubbornFinished: string[] = [];

  @HandlesTask(TaskName.EmailSend)
  async run(params: SendEmailParams, context: TaskContext): Promise<SendEmailResult> {
    this.calls.push({ params, context });
    if (params.subject === 'throw') {
      throw new Error(`boom on attempt ${context.retryCount}`);
    }
    if (params.subject === 'permanent') {
      throw new PermanentTaskError(`recipient ${params.to} rejected`);
    }
    const slow = /^slow (\d+)$/.exec(params.subject);
    if (slow) {
      await abortableSleep(Math.min(Number(slow[1]), this.maxSlowMs), context.signal);
    }
    const stubborn = /^stubborn (\d+)$/.exec(params.subject);
    if (stubborn) {
      await sleep(Number(stubborn[1])); // deaf to context.signal
      this.stubbornFinished.push(context.taskId);
    }
    return {
      message_id: `<${context.taskId}.${context.retryCount}@test>`,
      delivery: EmailDelivery.Outbox,
      accepted: [params.to],
      rejected: [],
      outbox_path: null,
    };
  }

  callsFor(taskId: string): HandlerCall[] {
    return this.calls.filter((call) => call.context.taskId === taskId);
  }
}

/** A second handler of the same name: the worker must refuse to start with both. */
@Injectable()
class OtherEmailHandler {
  @HandlesTask(TaskName.EmailSend)
  run(): Promise<SendEmailResult> {
    return Promise.reject(new Error('never runs'));
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      },
      { once: true },
    );
  });
}

function newTask(overrides: Partial<NewTask> & { params?: Partial<SendEmailParams> } = {}): NewTask {
  const { params, ...rest } = overrides;
  return {
    taskId: newTaskId(),
    taskName: TaskName.EmailSend,
    taskType: TaskType.Email,
    priority: 5,
    maxRetries: 3,
    timeoutMs: 60_000,
    createdAt: new Date(),
    ...rest,
    params: { to: 'someone@example.com', subject: 'Hello', body: 'Hi there', ...params },
  };
}

function commandOf(task: NewTask): TaskCommand<TaskName.EmailSend> {
  return {
    task_id: task.taskId,
    task_name: TaskName.EmailSend,
    task_type: task.taskType,
    params: task.params as unknown as SendEmailParams,
    priority: task.priority,
    max_retries: task.maxRetries,
    retry_count: 0,
    timeout_ms: task.timeoutMs,
  };
}

interface Observed<T> {
  body: T;
  message: ConsumeMessage;
}

describe('TaskConsumer (worker runtime, RabbitMQ + MariaDB)', () => {
  let vhost: TestVhost;
  let db: TestDatabase;
  /** The test's own pool and repository: they outlive the workers the tests start and stop. */
  let dataSource: DataSource;
  let tasks: TaskRepositories;
  let broker: ChannelModel;
  let channel: ConfirmChannel;
  const events: Array<Observed<TaskEvent>> = [];
  const retries: Array<Observed<TaskCommand>> = [];

  function workerEnv(overrides: Record<string, string>): Record<string, string> {
    return {
      AMQP_URL: vhost.url,
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '2',
      RETRY_BASE_DELAY_MS: String(RETRY_BASE_DELAY_MS),
      RETRY_MAX_DELAY_MS: String(RETRY_MAX_DELAY_MS),
      SHUTDOWN_GRACE_MS: '2000',
      WORKER_CONCURRENCY: '2',
      // Any free port: never collide with another process's health server.
      HEALTH_PORT: '0',
      ...overrides,
    };
  }

  function compileWorker(overrides: Record<string, string> = {}, handlers: Provider[] = [RecordingEmailHandler]) {
    return Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(WorkerEnv, workerEnv(overrides)),
        WorkerRuntimeModule.forRoot({ taskType: TaskType.Email }),
      ],
      providers: handlers,
    }).compile();
  }

  /** Starts a worker as the email worker's main does (a BrokerTransport microservice), and waits until it consumes its queue. */
  async function startWorker(
    overrides: Record<string, string> = {},
    prepare: (moduleRef: TestingModule) => void = () => undefined,
  ): Promise<INestMicroservice> {
    const moduleRef = await compileWorker(overrides);
    moduleRef.useLogger(['error', 'warn']);
    prepare(moduleRef);
    const worker = await listenOnBroker((options) => moduleRef.createNestMicroservice(options));
    await worker.get(AmqpConnection).waitUntilConnected(10_000);
    await waitFor('the worker to consume its queue', async () => (await channel.checkQueue(EMAIL_QUEUE)).consumerCount);
    // The broker counts the consumer before its consume-ok reaches the worker: wait for both.
    await waitFor('the worker to know it consumes', () => worker.get(TaskConsumer).isConsuming());
    return worker;
  }

  /** Every command published so far was settled: none ready, none unacked. */
  async function taskQueueDrained(): Promise<void> {
    await waitFor(
      'the email queue to be drained, nothing unacked',
      async () => {
        const counts = await vhost.queueCounts(EMAIL_QUEUE);
        return counts.ready === 0 && counts.unacked === 0;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  function eventsOf(taskId: string): TaskEvent[] {
    return events.filter((event) => event.body.task_id === taskId).map((event) => event.body);
  }

  function waitForEvent(taskId: string, type: TaskEventType, retryCount = 0): Promise<TaskEvent> {
    return waitFor(
      `a ${type} event of attempt ${retryCount} of task ${taskId}`,
      () => eventsOf(taskId).find((event) => event.event === type && event.retry_count === retryCount),
      { timeoutMs: 20_000 },
    );
  }

  function row(taskId: string): Promise<BackgroundTask> {
    return readTask(tasks.queries, taskId);
  }

  function delivery(taskId: string): Promise<Delivery> {
    return readDelivery(dataSource, taskId);
  }

  async function deadLetters(): Promise<GetMessage[]> {
    const found: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(Queue.DeadLetter, { noAck: true });
      if (message === false) {
        return found;
      }
      found.push(message);
    }
  }

  /** Publishes raw bytes to the tasks exchange, as a faulty or foreign producer would. */
  async function publishRaw(body: string, messageId: string): Promise<void> {
    channel.publish(Exchange.Tasks, taskRoutingKey(TaskType.Email), Buffer.from(body), {
      persistent: true,
      messageId,
    });
    await channel.waitForConfirms();
  }

  beforeAll(async () => {
    vhost = await createTestVhost('worker-runtime');
    db = await createTestDatabase('worker_runtime');
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    tasks = createTaskRepositories(dataSource);

    broker = await connect(vhost.url);
    channel = await broker.createConfirmChannel();
    // The same declarations the apps make, so the spy queues can be bound before any worker starts.
    await assertTopology(channel);
    await channel.assertQueue(EVENTS_SPY_QUEUE, { durable: false });
    await channel.bindQueue(EVENTS_SPY_QUEUE, Exchange.Events, ALL_EVENTS_PATTERN);
    await channel.assertQueue(RETRIES_SPY_QUEUE, { durable: false });
    for (const delay of RETRY_LEVELS) {
      await assertRetryDelayLevel(channel, delay);
      await channel.bindQueue(RETRIES_SPY_QUEUE, retryDelayName(delay), '');
    }
    await channel.consume(
      EVENTS_SPY_QUEUE,
      (message) => {
        if (message) {
          // Events published together travel as one message (ADR 0008): each is observed on its own.
          const decoded = decodeTaskEvents(message.content);
          if (!decoded.ok) {
            throw new Error(`the worker published an unreadable event message: ${decoded.reason}`);
          }
          for (const event of decoded.events) {
            if (!event.ok) {
              throw new Error(`the worker published a malformed event: ${event.reason}`);
            }
            events.push({ body: event.value, message });
          }
        }
      },
      { noAck: true },
    );
    await channel.consume(
      RETRIES_SPY_QUEUE,
      (message) => {
        if (message) {
          retries.push({ body: JSON.parse(message.content.toString()) as TaskCommand, message });
        }
      },
      { noAck: true },
    );
  });

  afterAll(async () => {
    await channel?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    await dataSource?.destroy().catch(() => undefined);
    await vhost?.delete();
    await db?.drop();
  });

  describe('a running worker', () => {
    let worker: INestMicroservice;
    let handler: RecordingEmailHandler;
    let messages: TaskMessagePublisher;

    beforeAll(async () => {
      worker = await startWorker();
      handler = worker.get(RecordingEmailHandler);
      messages = worker.get(TaskMessagePublisher);
      expect(worker.get(TaskConsumer).isConsuming()).toBe(true);
    });

    afterAll(async () => {
      await worker?.close();
    });

    it('claims a pending task, runs its handler once and publishes started then succeeded', async () => {
      const task = newTask({ priority: 6 });
      await tasks.outbox.insertPending(task);

      await messages.publishCommand(commandOf(task));
      const succeeded = await waitForEvent(task.taskId, TaskEventType.Succeeded);
      await taskQueueDrained();

      const calls = handler.callsFor(task.taskId);
      expect(calls).toHaveLength(1);
      expect(calls[0].params).toBeInstanceOf(SendEmailParams);
      expect({ ...calls[0].params }).toEqual(task.params);
      expect(calls[0].context).toMatchObject({
        taskId: task.taskId,
        taskName: TaskName.EmailSend,
        retryCount: 0,
        maxRetries: 3,
        priority: 6,
      });
      expect(calls[0].context.signal.aborted).toBe(false);

      const result: SendEmailResult = {
        message_id: `<${task.taskId}.0@test>`,
        delivery: EmailDelivery.Outbox,
        accepted: ['someone@example.com'],
        rejected: [],
        outbox_path: null,
      };
      const [started, ...rest] = eventsOf(task.taskId);
      expect(started).toEqual({
        event: TaskEventType.Started,
        task_id: task.taskId,
        task_name: TaskName.EmailSend,
        task_type: TaskType.Email,
        retry_count: 0,
        attempt: 1,
        occurred_at: expect.any(String),
      });
      expect(rest).toEqual([succeeded]);
      expect(succeeded).toEqual({
        event: TaskEventType.Succeeded,
        task_id: task.taskId,
        task_name: TaskName.EmailSend,
        task_type: TaskType.Email,
        retry_count: 0,
        attempt: 1,
        occurred_at: expect.any(String),
        result,
      });
      expect(Date.parse(succeeded.occurred_at)).toBeGreaterThanOrEqual(Date.parse(started.occurred_at));
      const succeededMessage = events.find((event) => event.body === succeeded)?.message;
      expect(succeededMessage?.fields.routingKey).toBe('task.succeeded');
      expect(succeededMessage?.properties).toMatchObject({
        messageId: `${task.taskId}.0.succeeded`,
        deliveryMode: 2,
        contentType: 'application/json',
      });

      // The claim moved the row to running, and the worker recorded the outcome under its claim
      // before publishing it — without the status tracker (not running here).
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retryCount: 0,
        startedAt: new Date(started.occurred_at),
        completedAt: new Date(succeeded.occurred_at),
        result,
      });
      // The claim took the task out of the outbox; the recorded outcome ended its lease.
      expect(await delivery(task.taskId)).toMatchObject({
        attempt: 1,
        lease_expires_at: null,
        dispatched_at: expect.any(Date),
      });
      // A cancel that comes once the handler has finished finds the task finished (the API's
      // 409), even before any tracker has seen the `succeeded` event.
      expect(await tasks.control.cancel(task.taskId, new Date())).toBeNull();
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
    });

    it('runs a command delivered twice only once, and acks and drops the second copy', async () => {
      const task = newTask();
      await tasks.outbox.insertPending(task);

      const command = commandOf(task);
      await messages.publishCommand(command);
      await messages.publishCommand(command);
      await waitForEvent(task.taskId, TaskEventType.Succeeded);
      await taskQueueDrained();

      expect(handler.callsFor(task.taskId)).toHaveLength(1);
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([
        TaskEventType.Started,
        TaskEventType.Succeeded,
      ]);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
    });

    it('drops the command of a task cancelled before delivery, without running it', async () => {
      const task = newTask();
      await tasks.outbox.insertPending(task);
      expect((await tasks.control.cancel(task.taskId, new Date()))?.from).toBe(TaskStatus.Pending);

      await messages.publishCommand(commandOf(task));
      await taskQueueDrained();

      expect(handler.callsFor(task.taskId)).toHaveLength(0);
      expect(eventsOf(task.taskId)).toEqual([]);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        startedAt: null,
        retryCount: 0,
        completedAt: expect.any(Date),
      });
    });

    it('acks and drops a command for a task that has no row', async () => {
      await deadLetters();
      const task = newTask();

      await messages.publishCommand(commandOf(task));
      await taskQueueDrained();

      expect(handler.callsFor(task.taskId)).toHaveLength(0);
      expect(eventsOf(task.taskId)).toEqual([]);
      expect(await tasks.queries.findByTaskId(task.taskId)).toBeNull();
      expect(await deadLetters()).toEqual([]);
    });

    it('retries a failing handler through the delay queues at the same priority, then fails it', async () => {
      const task = newTask({ priority: 7, maxRetries: 2, params: { subject: 'throw' } });
      await tasks.outbox.insertPending(task);

      await messages.publishCommand(commandOf(task));
      const failed = await waitForEvent(task.taskId, TaskEventType.Failed, 2);
      await taskQueueDrained();

      // Three attempts, each claimed although no tracker ever moved the row back to pending.
      const calls = handler.callsFor(task.taskId);
      expect(calls.map((call) => call.context.retryCount)).toEqual([0, 1, 2]);
      expect(calls.map((call) => call.context.priority)).toEqual([7, 7, 7]);
      expect(calls.map((call) => call.context.maxRetries)).toEqual([2, 2, 2]);

      // Each retry is a claim of its own: a new generation.
      const lifecycle = eventsOf(task.taskId);
      expect(lifecycle.map((event) => [event.event, event.retry_count, event.attempt])).toEqual([
        [TaskEventType.Started, 0, 1],
        [TaskEventType.Retrying, 0, 1],
        [TaskEventType.Started, 1, 2],
        [TaskEventType.Retrying, 1, 2],
        [TaskEventType.Started, 2, 3],
        [TaskEventType.Failed, 2, 3],
      ]);
      const retrying = lifecycle.filter((event) => event.event === TaskEventType.Retrying);
      expect(retrying[0]).toMatchObject({ error_message: 'boom on attempt 0', delay_ms: expect.any(Number) });
      expect(retrying[1]).toMatchObject({ error_message: 'boom on attempt 1', delay_ms: expect.any(Number) });
      for (const event of retrying) {
        expect(RETRY_LEVELS).toContain((event as { delay_ms: number }).delay_ms);
      }
      expect(failed).toMatchObject({ error_message: 'boom on attempt 2', task_name: TaskName.EmailSend });

      // The retry messages: the next attempt's command, through the level of the announced delay, same priority.
      const sent = retries.filter((retry) => retry.body.task_id === task.taskId);
      expect(sent.map((retry) => retry.body)).toEqual([
        { ...commandOf(task), retry_count: 1 },
        { ...commandOf(task), retry_count: 2 },
      ]);
      sent.forEach((retry, index) => {
        expect(retry.message.fields.exchange).toBe(retryDelayName((retrying[index] as { delay_ms: number }).delay_ms));
        expect(retry.message.fields.routingKey).toBe(taskRoutingKey(TaskType.Email));
        expect(retry.message.properties).toMatchObject({
          priority: brokerPriorityOf(7),
          messageId: `${task.taskId}.${index + 1}`,
          type: TaskName.EmailSend,
          deliveryMode: 2,
        });
      });

      // The tracker (not running here) applies `retrying`; the final failure the worker records itself.
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        retryCount: 2,
        errorMessage: 'boom on attempt 2',
      });
      expect((await delivery(task.taskId)).attempt).toBe(3);
      for (const delay of RETRY_LEVELS) {
        expect((await channel.checkQueue(retryDelayName(delay))).messageCount).toBe(0);
      }
    });

    it('fails a task at once on a PermanentTaskError, without retrying', async () => {
      const task = newTask({ maxRetries: 3, params: { subject: 'permanent', to: 'bounce@example.com' } });
      await tasks.outbox.insertPending(task);

      await messages.publishCommand(commandOf(task));
      const failed = await waitForEvent(task.taskId, TaskEventType.Failed);
      await taskQueueDrained();
      // Longer than any retry delay: a retry, had one been sent, would be back by now.
      await sleep(RETRY_MAX_DELAY_MS + 300);

      expect(handler.callsFor(task.taskId)).toHaveLength(1);
      expect(failed).toMatchObject({ retry_count: 0, error_message: 'recipient bounce@example.com rejected' });
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([TaskEventType.Started, TaskEventType.Failed]);
      expect(retries.filter((retry) => retry.body.task_id === task.taskId)).toEqual([]);
      await taskQueueDrained();
    });

    it('dead-letters poison messages with the reason, fails their task, and never loops', async () => {
      await deadLetters();
      const unknownName = newTask();
      const badParams = newTask();
      await tasks.outbox.insertPending(unknownName);
      await tasks.outbox.insertPending(badParams);

      const notJson = '{"task_id":';
      const unknownNameBody = JSON.stringify({ ...commandOf(unknownName), task_name: 'email.spam' });
      const badParamsBody = JSON.stringify({
        ...commandOf(badParams),
        params: { to: 'nope', subject: 'Hello', body: 'Hi' },
      });
      await publishRaw(notJson, 'poison-json');
      await publishRaw(unknownNameBody, 'poison-name');
      await publishRaw(badParamsBody, 'poison-params');

      const parked: GetMessage[] = [];
      await waitFor('three dead letters', async () => {
        parked.push(...(await deadLetters()));
        return parked.length >= 3;
      });
      await taskQueueDrained();
      // Nothing else arrives later: each poison message was parked once.
      await sleep(300);
      parked.push(...(await deadLetters()));
      expect(parked).toHaveLength(3);

      const byId = new Map(parked.map((message) => [String(message.properties.messageId), message]));
      const json = byId.get('poison-json');
      expect(json?.content.toString()).toBe(notJson);
      expect(json?.properties.headers).toMatchObject({
        [DeadLetterHeader.Reason]: 'message body is not valid JSON',
        [DeadLetterHeader.SourceQueue]: EMAIL_QUEUE,
      });
      expect(json?.properties.deliveryMode).toBe(2);
      const name = byId.get('poison-name');
      expect(name?.content.toString()).toBe(unknownNameBody);
      expect(name?.properties.headers?.[DeadLetterHeader.Reason]).toBe('unknown task_name "email.spam"');
      const params = byId.get('poison-params');
      expect(params?.content.toString()).toBe(badParamsBody);
      expect(String(params?.properties.headers?.[DeadLetterHeader.Reason])).toMatch(
        /^invalid params: params\.to must be an email/,
      );

      expect(await row(unknownName.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        errorMessage: 'unprocessable message: unknown task_name "email.spam"',
        startedAt: null,
        completedAt: expect.any(Date),
      });
      expect(await row(badParams.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        errorMessage: expect.stringMatching(/^unprocessable message: invalid params: params\.to must be an email/),
        startedAt: null,
        completedAt: expect.any(Date),
      });
      expect(handler.callsFor(unknownName.taskId)).toHaveLength(0);
      expect(handler.callsFor(badParams.taskId)).toHaveLength(0);
      expect(eventsOf(unknownName.taskId)).toEqual([]);
      expect(eventsOf(badParams.taskId)).toEqual([]);
    });

    it('dead-letters a malformed copy of a running task without failing the running claim', async () => {
      await deadLetters();
      const task = newTask({ params: { subject: 'slow 500' } });
      await tasks.outbox.insertPending(task);
      await messages.publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);

      const copy = JSON.stringify({ ...commandOf(task), params: { to: 'nope', subject: 'Hello', body: 'Hi' } });
      await publishRaw(copy, 'poison-copy');
      const parked = await waitFor('the copy in the dead-letter queue', async () => {
        const found = await deadLetters();
        return found.length > 0 ? found : false;
      });
      expect(parked.map((message) => message.properties.messageId)).toEqual(['poison-copy']);

      await waitForEvent(task.taskId, TaskEventType.Succeeded);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, errorMessage: null });
      expect(handler.callsFor(task.taskId)).toHaveLength(1);
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([
        TaskEventType.Started,
        TaskEventType.Succeeded,
      ]);
      await taskQueueDrained();
    });
  });

  describe('leases', () => {
    const LEASE_MS = 1_000;
    let worker: INestMicroservice;
    let handler: RecordingEmailHandler;
    let messages: TaskMessagePublisher;

    beforeAll(async () => {
      // Heartbeats every LEASE_MS / 5 = 200 ms.
      worker = await startWorker({ TASK_LEASE_MS: String(LEASE_MS) });
      handler = worker.get(RecordingEmailHandler);
      messages = worker.get(TaskMessagePublisher);
    });

    afterAll(async () => {
      await worker?.close();
    });

    it('keeps the claim of a task running far longer than its lease alive with heartbeats', async () => {
      const task = newTask({ params: { subject: 'slow 4000' } });
      await tasks.outbox.insertPending(task);
      await messages.publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);
      await waitFor('the claim', async () => (await row(task.taskId)).status === TaskStatus.Running);
      const claimedLease = (await delivery(task.taskId)).lease_expires_at as Date;

      // Sample the lease while the handler runs: never expired, and pushed further and further.
      const samples: Delivery[] = [];
      while (handler.callsFor(task.taskId).length === 1 && eventsOf(task.taskId).length < 2) {
        samples.push(await delivery(task.taskId));
        await sleep(250);
      }
      const succeeded = await waitForEvent(task.taskId, TaskEventType.Succeeded);

      expect(samples.length).toBeGreaterThanOrEqual(8);
      for (const sample of samples) {
        expect(sample.attempt).toBe(1);
        expect(sample.lease_left_ms).toBeGreaterThan(0);
      }
      const leases = samples.map((sample) => (sample.lease_expires_at as Date).getTime());
      for (let index = 1; index < leases.length; index += 1) {
        expect(leases[index]).toBeGreaterThanOrEqual(leases[index - 1]);
      }
      // 4 s of running moved a 1 s lease forward by about 3 s.
      expect(leases[leases.length - 1] - claimedLease.getTime()).toBeGreaterThan(2_500);

      // Ran once, never aborted, and its outcome was published under its claim.
      const calls = handler.callsFor(task.taskId);
      expect(calls).toHaveLength(1);
      expect(calls[0].context.signal.aborted).toBe(false);
      expect(succeeded).toMatchObject({ retry_count: 0, attempt: 1 });
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([
        TaskEventType.Started,
        TaskEventType.Succeeded,
      ]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, retryCount: 0 });
      await taskQueueDrained();
    });

    it('aborts a handler whose claim was taken away and publishes no outcome for it', async () => {
      const task = newTask({ params: { subject: 'slow 10000' } });
      await tasks.outbox.insertPending(task);
      await messages.publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);
      await waitFor('the claim', async () => (await row(task.taskId)).status === TaskStatus.Running);
      await waitForEvent(task.taskId, TaskEventType.Started);
      const [call] = handler.callsFor(task.taskId);

      // The claim is handed back behind the worker's back (as the reconciler would after a lost lease).
      expect(await tasks.claims.releaseClaim(task.taskId, 1)).toBe(true);

      const abortedWithin = Date.now();
      await waitFor('the handler to be aborted', () => call.context.signal.aborted, { timeoutMs: 5_000 });
      // Noticed at the next heartbeat (every 200 ms).
      expect(Date.now() - abortedWithin).toBeLessThan(2_000);
      expect(String(call.context.signal.reason)).toMatch(/task given up/);

      // Longer than any retry delay: a retry or an outcome, had one been sent, would be seen by now.
      await sleep(RETRY_MAX_DELAY_MS + 300);
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([TaskEventType.Started]);
      expect(retries.filter((retry) => retry.body.task_id === task.taskId)).toEqual([]);
      // The row stays as released: pending, the next generation, in the outbox.
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, retryCount: 0 });
      expect(await delivery(task.taskId)).toMatchObject({ attempt: 2, lease_expires_at: null, dispatched_at: null });
      await taskQueueDrained();
      // Out of the outbox, so that no later relay in this file publishes it.
      expect((await tasks.control.cancel(task.taskId, new Date()))?.from).toBe(TaskStatus.Pending);

      // The worker carries on with other tasks.
      const next = newTask();
      await tasks.outbox.insertPending(next);
      await messages.publishCommand(commandOf(next));
      await waitForEvent(next.taskId, TaskEventType.Succeeded);
    });

    it('runs at most WORKER_CONCURRENCY (2) tasks at once, although deliveries are acked at the claim', async () => {
      const batch = Array.from({ length: 5 }, () => newTask({ params: { subject: 'slow 400' } }));
      let running = 0;
      let mostAtOnce = 0;
      const original = handler.run.bind(handler);
      const spy = jest.spyOn(handler, 'run').mockImplementation(async (params, context) => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        try {
          return await original(params, context);
        } finally {
          running -= 1;
        }
      });
      try {
        for (const task of batch) {
          await tasks.outbox.insertPending(task);
          await messages.publishCommand(commandOf(task));
        }
        for (const task of batch) {
          await waitForEvent(task.taskId, TaskEventType.Succeeded);
        }
      } finally {
        spy.mockRestore();
      }
      expect(mostAtOnce).toBe(2);
      await taskQueueDrained();
    });
  });

  describe('one handler slot', () => {
    let worker: INestMicroservice;
    let messages: TaskMessagePublisher;

    beforeAll(async () => {
      worker = await startWorker({ WORKER_CONCURRENCY: '1' });
      messages = worker.get(TaskMessagePublisher);
    });

    afterAll(async () => {
      await worker?.close();
    });

    it('starts the next task while the outcome of the previous one is still being recorded', async () => {
      const first = newTask({ params: { subject: 'slow 300' } });
      const second = newTask();
      await tasks.outbox.insertPending(first);
      await tasks.outbox.insertPending(second);
      await messages.publishCommand(commandOf(first));
      await waitForEvent(first.taskId, TaskEventType.Started);

      // Hold the first task's row: once its handler is done, its outcome write waits on the lock.
      const blocker = dataSource.createQueryRunner();
      await blocker.connect();
      try {
        await blocker.startTransaction();
        await blocker.query('SELECT id FROM background_tasks WHERE task_id = ? FOR UPDATE', [first.taskId]);
        await messages.publishCommand(commandOf(second));

        // The only slot was free for the second task as soon as the first handler returned.
        await waitForEvent(second.taskId, TaskEventType.Succeeded);
        expect((await row(second.taskId)).status).toBe(TaskStatus.Completed);
        expect(eventsOf(first.taskId).map((event) => event.event)).toEqual([TaskEventType.Started]);
        await blocker.commitTransaction();
      } finally {
        await blocker.release();
      }

      await waitForEvent(first.taskId, TaskEventType.Succeeded);
      expect((await row(first.taskId)).status).toBe(TaskStatus.Completed);
      await taskQueueDrained();
    });
  });

  describe('a concurrency limit of the type (TASK_TYPE_MAX_RUNNING 1, DELIVERY_MAX_WAIT_MS 600)', () => {
    let worker: INestMicroservice;
    let messages: TaskMessagePublisher;
    let handler: RecordingEmailHandler;

    beforeAll(async () => {
      worker = await startWorker({ TASK_TYPE_MAX_RUNNING: '1', DELIVERY_MAX_WAIT_MS: '600', WORKER_CONCURRENCY: '4' });
      messages = worker.get(TaskMessagePublisher);
      handler = worker.get(RecordingEmailHandler);
    });

    afterAll(async () => {
      await worker?.close();
    });

    it('holds a delivery back while the type is at its limit — back to the broker past its wait — and runs it once after', async () => {
      const slow = newTask({ params: { subject: 'slow 1500' } });
      const next = newTask();
      await tasks.outbox.insertPending(slow);
      await tasks.outbox.insertPending(next);
      await messages.publishCommand(commandOf(slow));
      await waitForEvent(slow.taskId, TaskEventType.Started);
      await messages.publishCommand(commandOf(next));

      // Free slots, but the type's one running task is the limit: the next one waits, pending.
      await sleep(1_000);
      expect(handler.callsFor(next.taskId)).toEqual([]);
      expect((await row(next.taskId)).status).toBe(TaskStatus.Pending);
      // Its delivery went back to the broker after 600 ms and came again (redelivered), still held.
      await waitForEvent(next.taskId, TaskEventType.Succeeded);
      const [slowDone, nextStarted] = [await row(slow.taskId), await row(next.taskId)];
      expect(handler.callsFor(next.taskId)).toHaveLength(1);
      expect(nextStarted.startedAt?.getTime()).toBeGreaterThanOrEqual(slowDone.completedAt?.getTime() ?? Infinity);
      expect((await delivery(next.taskId)).attempt).toBe(1);
      await taskQueueDrained();
    });
  });

  describe('diagnostic.sleep with DIAGNOSTIC_EXECUTION_LOG', () => {
    let dir: string;
    let log: string;
    let worker: INestMicroservice;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tasklane-executions-'));
      log = join(dir, 'executions.log');
      worker = await startWorker({ DIAGNOSTIC_EXECUTION_LOG: log, TASK_LEASE_MS: '1000' });
    });

    afterAll(async () => {
      await worker?.close();
      await rm(dir, { recursive: true, force: true });
    });

    function sleepTask(ms: number): NewTask {
      return { ...newTask(), taskName: TaskName.DiagnosticSleep, params: { ms } };
    }

    function sleepCommand(task: NewTask, retryCount = 0): TaskCommand {
      return { ...commandOf(task), task_name: TaskName.DiagnosticSleep, retry_count: retryCount } as TaskCommand;
    }

    async function logLines(): Promise<string[]> {
      const content = await readFile(log, 'utf8').catch(() => '');
      return content.split('\n').filter((line) => line !== '');
    }

    it('appends `task_id retry_count pid` once per finished execution, never for a duplicate or an aborted run', async () => {
      const messages = worker.get(TaskMessagePublisher);
      const first = sleepTask(20);
      const second = sleepTask(20);
      const aborted = sleepTask(10_000);
      for (const task of [first, second, aborted]) {
        await tasks.outbox.insertPending(task);
      }
      await messages.publishCommand(sleepCommand(first));
      await messages.publishCommand(sleepCommand(first)); // a duplicate: dropped at the claim
      await messages.publishCommand(sleepCommand(second));
      await messages.publishCommand(sleepCommand(aborted));
      await waitForEvent(first.taskId, TaskEventType.Succeeded);
      await waitForEvent(second.taskId, TaskEventType.Succeeded);
      await waitForEvent(aborted.taskId, TaskEventType.Started);
      expect(await tasks.claims.releaseClaim(aborted.taskId, 1)).toBe(true);
      await taskQueueDrained();
      await sleep(600); // three heartbeats: the aborted run has ended by now

      const lines = await logLines();
      expect([...lines].sort()).toEqual(
        [`${first.taskId} 0 ${process.pid}`, `${second.taskId} 0 ${process.pid}`].sort(),
      );
      expect(eventsOf(aborted.taskId).map((event) => event.event)).toEqual([TaskEventType.Started]);
      // Out of the outbox, so that no later relay in this file publishes it.
      expect((await tasks.control.cancel(aborted.taskId, new Date()))?.from).toBe(TaskStatus.Pending);

      // A retry of a task is an execution of its own, with its retry count.
      const retried = sleepTask(5);
      await tasks.outbox.insertPending({ ...retried, maxRetries: 2 });
      await messages.publishCommand({ ...sleepCommand(retried, 1), max_retries: 2 });
      await waitForEvent(retried.taskId, TaskEventType.Succeeded, 1);
      await waitFor('the execution line of the retry', async () =>
        (await logLines()).includes(`${retried.taskId} 1 ${process.pid}`),
      );
      expect(await logLines()).toHaveLength(3);
    });
  });

  describe('graceful shutdown', () => {
    it('lets an in-flight task finish within the grace period, publishes its outcome and acks it', async () => {
      const worker = await startWorker({ SHUTDOWN_GRACE_MS: '2000' });
      const handler = worker.get(RecordingEmailHandler);
      const task = newTask({ params: { subject: 'slow 500' } });
      await tasks.outbox.insertPending(task);
      await worker.get(TaskMessagePublisher).publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);

      const closing = Date.now();
      await worker.close();
      const closeMs = Date.now() - closing;

      expect(closeMs).toBeLessThan(2_000);
      const [call] = handler.callsFor(task.taskId);
      expect(call.context.signal.aborted).toBe(false);
      expect(await waitForEvent(task.taskId, TaskEventType.Succeeded)).toMatchObject({
        result: expect.objectContaining({ message_id: `<${task.taskId}.0@test>` }),
      });
      expect(await channel.checkQueue(EMAIL_QUEUE)).toMatchObject({ messageCount: 0, consumerCount: 0 });
      expect(await vhost.queueCounts(EMAIL_QUEUE)).toEqual({ ready: 0, unacked: 0 });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
    });

    it('hands a task still running after the grace period back: claim released into the outbox, nothing requeued', async () => {
      const worker = await startWorker({ SHUTDOWN_GRACE_MS: '300' });
      const handler = worker.get(RecordingEmailHandler);
      const task = newTask({ params: { subject: 'slow 10000' } });
      await tasks.outbox.insertPending(task);
      await worker.get(TaskMessagePublisher).publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);
      await waitFor('the claim', async () => (await row(task.taskId)).status === TaskStatus.Running);
      // Acked at the claim: while the handler runs, the broker holds nothing of the task.
      await taskQueueDrained();
      const { attempt } = await delivery(task.taskId);
      expect(attempt).toBe(1);

      const closing = Date.now();
      await worker.close();
      const closeMs = Date.now() - closing;

      expect(closeMs).toBeGreaterThanOrEqual(300);
      expect(closeMs).toBeLessThan(3_000);
      expect(handler.callsFor(task.taskId)[0].context.signal.aborted).toBe(true);
      // Released: pending, the same retry, a new generation, back in the outbox.
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retryCount: 0,
        startedAt: null,
        completedAt: null,
      });
      expect(await delivery(task.taskId)).toEqual({
        attempt: attempt + 1,
        lease_expires_at: null,
        dispatched_at: null,
        lease_left_ms: null,
      });
      // The message was acked at the claim: nothing goes back to the queue (the outbox relay republishes).
      expect(await channel.checkQueue(EMAIL_QUEUE)).toMatchObject({ messageCount: 0, consumerCount: 0 });
      expect(await vhost.queueCounts(EMAIL_QUEUE)).toEqual({ ready: 0, unacked: 0 });
      // Only the start was announced: the aborted run's outcome is not published.
      await sleep(200);
      expect(eventsOf(task.taskId).map((event) => event.event)).toEqual([TaskEventType.Started]);
      expect(retries.filter((retry) => retry.body.task_id === task.taskId)).toEqual([]);

      // A successor runs it to the end once the outbox relay (the status tracker's job) republishes it.
      const successor = await startWorker({}, (moduleRef) => {
        moduleRef.get(RecordingEmailHandler).maxSlowMs = 0;
      });
      try {
        const publisher = successor.get(TaskMessagePublisher);
        const relayed = await tasks.outbox.relayOutbox(0, 100, async (commands) => {
          await Promise.all(commands.map((command) => publisher.publishCommand(command)));
        });
        expect(relayed).toBe(1);
        expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();

        const again = successor.get(RecordingEmailHandler);
        await waitForEvent(task.taskId, TaskEventType.Succeeded);
        await taskQueueDrained();
        expect(again.callsFor(task.taskId).map((call) => call.context.retryCount)).toEqual([0]);
        expect(eventsOf(task.taskId).map((event) => [event.event, event.retry_count, event.attempt])).toEqual([
          [TaskEventType.Started, 0, attempt],
          [TaskEventType.Started, 0, attempt + 2],
          [TaskEventType.Succeeded, 0, attempt + 2],
        ]);
        expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, startedAt: expect.any(Date) });
        expect((await delivery(task.taskId)).attempt).toBe(attempt + 2);
      } finally {
        await successor.close();
      }
    });

    it('does not start a delivery still waiting for a slot at shutdown: it goes back to the queue', async () => {
      const worker = await startWorker({ SHUTDOWN_GRACE_MS: '300', WORKER_CONCURRENCY: '1' });
      const handler = worker.get(RecordingEmailHandler);
      const publisher = worker.get(TaskMessagePublisher);
      const running = newTask({ params: { subject: 'slow 10000' } });
      const waiting = newTask({ params: { subject: 'slow 10000' } });
      for (const task of [running, waiting]) {
        await tasks.outbox.insertPending(task);
        await tasks.outbox.markDispatched([task.taskId], new Date());
        await publisher.publishCommand(commandOf(task));
      }
      await waitFor('the first handler to start', () => handler.callsFor(running.taskId).length === 1);
      // The first was acked at its claim; the second waits for the one slot, unacked.
      await waitFor(
        'the second delivery to wait unacked',
        async () => {
          const counts = await vhost.queueCounts(EMAIL_QUEUE);
          return counts.ready === 0 && counts.unacked === 1;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      await worker.close();

      expect(handler.callsFor(running.taskId)[0].context.signal.aborted).toBe(true);
      expect(handler.callsFor(waiting.taskId)).toEqual([]);
      expect(await delivery(running.taskId)).toMatchObject({ attempt: 2, dispatched_at: null });
      // Never claimed, and back in the queue.
      expect(await row(waiting.taskId)).toMatchObject({ status: TaskStatus.Pending, startedAt: null });
      expect(await delivery(waiting.taskId)).toMatchObject({ attempt: 0, dispatched_at: expect.any(Date) });
      expect(await vhost.queueCounts(EMAIL_QUEUE)).toEqual({ ready: 1, unacked: 0 });
      expect(eventsOf(waiting.taskId)).toEqual([]);

      // A successor runs both: the queued one, and the released one once relayed.
      const successor = await startWorker({}, (moduleRef) => {
        moduleRef.get(RecordingEmailHandler).maxSlowMs = 0;
      });
      try {
        const successorPublisher = successor.get(TaskMessagePublisher);
        expect(
          await tasks.outbox.relayOutbox(0, 100, async (commands) => {
            await Promise.all(commands.map((command) => successorPublisher.publishCommand(command)));
          }),
        ).toBe(1);
        await waitForEvent(waiting.taskId, TaskEventType.Succeeded);
        await waitForEvent(running.taskId, TaskEventType.Succeeded);
        await taskQueueDrained();
      } finally {
        await successor.close();
      }
    });
  });

  describe('fail-fast handler registration', () => {
    /** A failed init leaves the context un-closable (close() rethrows): release what it opened. */
    async function release(moduleRef: TestingModule): Promise<void> {
      await moduleRef.get(AmqpConnection).onApplicationShutdown();
      const pool = moduleRef.get(DataSource);
      if (pool.isInitialized) {
        await pool.destroy();
      }
    }

    async function initError(handlers: Provider[]): Promise<unknown> {
      const moduleRef = await compileWorker({}, handlers);
      moduleRef.useLogger(false);
      try {
        await moduleRef.init();
      } catch (error) {
        return error;
      } finally {
        await release(moduleRef);
      }
      throw new Error('expected init() to reject');
    }

    it('refuses to start with two handlers for email.send', async () => {
      const error = await initError([RecordingEmailHandler, OtherEmailHandler]);
      expect(error).toBeInstanceOf(HandlerRegistrationError);
      expect((error as Error).message).toContain(
        'email.send has two handlers: RecordingEmailHandler.run and OtherEmailHandler.run',
      );
      expect((await channel.checkQueue(EMAIL_QUEUE)).consumerCount).toBe(0);
    });

    it('refuses to start without a handler for email.send', async () => {
      const error = await initError([]);
      expect(error).toBeInstanceOf(HandlerRegistrationError);
      expect((error as Error).message).toContain('email.send (type email) has no handler');
      expect((error as Error).message).not.toContain('diagnostic.');
      expect((await channel.checkQueue(EMAIL_QUEUE)).consumerCount).toBe(0);
    });
  });

  describe('task control (ADR 0006): timeouts and cancels of running tasks', () => {
    const ABORT_GRACE_MS = 300;

    /** Publishes a task's command and waits until its handler runs under its claim; returns the call. */
    async function runningCall(worker: INestMicroservice, task: NewTask): Promise<HandlerCall> {
      const handler = worker.get(RecordingEmailHandler);
      await tasks.outbox.insertPending(task);
      await worker.get(TaskMessagePublisher).publishCommand(commandOf(task));
      await waitFor('the handler to start', () => handler.callsFor(task.taskId).length === 1);
      await waitForEvent(task.taskId, TaskEventType.Started);
      return handler.callsFor(task.taskId)[0];
    }

    function eventNames(taskId: string): Array<[TaskEventType, number]> {
      return eventsOf(taskId).map((event) => [event.event, event.retry_count]);
    }

    /** Any outcome or retry would have been published by now. */
    async function expectNoOutcome(taskId: string): Promise<void> {
      await sleep(RETRY_MAX_DELAY_MS + 300);
      expect(eventNames(taskId)).toEqual([[TaskEventType.Started, 0]]);
      expect(retries.filter((retry) => retry.body.task_id === taskId)).toEqual([]);
    }

    describe('timeouts (one slot)', () => {
      let worker: INestMicroservice;
      let handler: RecordingEmailHandler;
      let messages: TaskMessagePublisher;

      beforeAll(async () => {
        worker = await startWorker({ ABORT_GRACE_MS: String(ABORT_GRACE_MS), WORKER_CONCURRENCY: '1' });
        handler = worker.get(RecordingEmailHandler);
        messages = worker.get(TaskMessagePublisher);
      });

      afterAll(async () => {
        await worker?.close();
      });

      it('aborts a handler at its timeout_ms and fails the attempt with the timeout; retries apply', async () => {
        const task = newTask({ timeoutMs: 300, maxRetries: 1, params: { subject: 'slow 5000' } });
        await tasks.outbox.insertPending(task);
        const publishedAt = Date.now();
        await messages.publishCommand(commandOf(task));
        const failed = await waitForEvent(task.taskId, TaskEventType.Failed, 1);
        const tookMs = Date.now() - publishedAt;
        await taskQueueDrained();

        // Two attempts, each aborted at 300 ms with the timeout as the reason.
        const calls = handler.callsFor(task.taskId);
        expect(calls.map((call) => call.context.retryCount)).toEqual([0, 1]);
        for (const call of calls) {
          expect(call.context.signal.aborted).toBe(true);
          expect(call.context.signal.reason).toBeInstanceOf(TaskTimeoutError);
        }
        expect(eventNames(task.taskId)).toEqual([
          [TaskEventType.Started, 0],
          [TaskEventType.Retrying, 0],
          [TaskEventType.Started, 1],
          [TaskEventType.Failed, 1],
        ]);
        const retrying = eventsOf(task.taskId).find((event) => event.event === TaskEventType.Retrying);
        expect(retrying).toMatchObject({ error_message: 'the task timed out after 300 ms' });
        expect(failed).toMatchObject({ error_message: 'the task timed out after 300 ms' });
        // Two attempts of 300 ms (and a short retry delay), not the 5 s the handler would take.
        expect(tookMs).toBeGreaterThanOrEqual(600);
        expect(tookMs).toBeLessThan(4_000);
        // The retry's command carries the same timeout.
        expect(retries.filter((retry) => retry.body.task_id === task.taskId).map((retry) => retry.body)).toEqual([
          { ...commandOf(task), retry_count: 1, timeout_ms: 300 },
        ]);
      });

      it('abandons a timed-out handler that ignores its signal after ABORT_GRACE_MS, freeing its slot for the next task', async () => {
        const deaf = newTask({ timeoutMs: 200, maxRetries: 0, params: { subject: 'stubborn 3000' } });
        const next = newTask();
        await tasks.outbox.insertPending(deaf);
        await tasks.outbox.insertPending(next);
        const publishedAt = Date.now();
        await messages.publishCommand(commandOf(deaf));
        await waitFor('the stubborn handler to start', () => handler.callsFor(deaf.taskId).length === 1);
        await messages.publishCommand(commandOf(next));

        const failed = await waitForEvent(deaf.taskId, TaskEventType.Failed);
        const failedAfterMs = Date.now() - publishedAt;
        await waitForEvent(next.taskId, TaskEventType.Succeeded);
        const nextDoneAfterMs = Date.now() - publishedAt;

        // The timeout (200 ms) plus the grace (300 ms), not the 3 s the handler takes.
        expect(failedAfterMs).toBeGreaterThanOrEqual(200 + ABORT_GRACE_MS);
        expect(failed).toMatchObject({ retry_count: 0, error_message: 'the task timed out after 200 ms' });
        expect(handler.callsFor(deaf.taskId)[0].context.signal.aborted).toBe(true);
        // The one slot served the next task while the abandoned handler still ran, unobserved.
        expect(nextDoneAfterMs).toBeLessThan(2_500);
        expect(handler.stubbornFinished).not.toContain(deaf.taskId);

        // When it finally ends, nothing of it is published.
        await waitFor('the stubborn handler to end', () => handler.stubbornFinished.includes(deaf.taskId), {
          timeoutMs: 5_000,
        });
        await sleep(300);
        expect(eventNames(deaf.taskId)).toEqual([
          [TaskEventType.Started, 0],
          [TaskEventType.Failed, 0],
        ]);
        await taskQueueDrained();
      });
    });

    describe('cancel by broadcast (heartbeats only every 12 s)', () => {
      let worker: INestMicroservice;
      let handler: RecordingEmailHandler;
      let messages: TaskMessagePublisher;

      beforeAll(async () => {
        worker = await startWorker({
          TASK_LEASE_MS: '60000',
          ABORT_GRACE_MS: String(ABORT_GRACE_MS),
          WORKER_CONCURRENCY: '1',
        });
        handler = worker.get(RecordingEmailHandler);
        messages = worker.get(TaskMessagePublisher);
      });

      afterAll(async () => {
        await worker?.close();
      });

      it('aborts the running handler within a second and publishes no outcome', async () => {
        const task = newTask({ params: { subject: 'slow 10000' } });
        const call = await runningCall(worker, task);
        const { attempt } = await delivery(task.taskId);

        // What the gateway does: the database first, then the broadcast.
        const cancelled = await tasks.control.cancel(task.taskId, new Date());
        expect(cancelled).toEqual({ from: TaskStatus.Running, attempt: attempt + 1 });
        const cancelledAt = Date.now();
        await messages.publishControl({ type: TaskControlType.Cancel, task_id: task.taskId, attempt: attempt + 1 });
        await waitFor('the handler to be aborted', () => call.context.signal.aborted, {
          timeoutMs: 5_000,
          intervalMs: 20,
        });
        expect(Date.now() - cancelledAt).toBeLessThan(1_000);
        expect(call.context.signal.reason).toBeInstanceOf(TaskCancelledError);

        await expectNoOutcome(task.taskId);
        expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Cancelled });
        expect((await delivery(task.taskId)).attempt).toBe(attempt + 1);

        // The worker carries on with other tasks.
        const next = newTask();
        await tasks.outbox.insertPending(next);
        await messages.publishCommand(commandOf(next));
        await waitForEvent(next.taskId, TaskEventType.Succeeded);
        await taskQueueDrained();
      });

      it('abandons a cancelled handler that ignores its signal after the grace, and frees its slot', async () => {
        const deaf = newTask({ params: { subject: 'stubborn 3000' } });
        const call = await runningCall(worker, deaf);
        const next = newTask();
        await tasks.outbox.insertPending(next);
        await messages.publishCommand(commandOf(next));

        const cancelled = await tasks.control.cancel(deaf.taskId, new Date());
        expect(cancelled?.from).toBe(TaskStatus.Running);
        const cancelledAt = Date.now();
        await messages.publishControl({
          type: TaskControlType.Cancel,
          task_id: deaf.taskId,
          attempt: cancelled?.attempt ?? 0,
        });
        await waitForEvent(next.taskId, TaskEventType.Succeeded);
        const nextDoneAfterMs = Date.now() - cancelledAt;

        expect(call.context.signal.reason).toBeInstanceOf(TaskCancelledError);
        expect(nextDoneAfterMs).toBeGreaterThanOrEqual(ABORT_GRACE_MS - 50);
        expect(nextDoneAfterMs).toBeLessThan(2_000);
        expect(handler.stubbornFinished).not.toContain(deaf.taskId);

        await waitFor('the stubborn handler to end', () => handler.stubbornFinished.includes(deaf.taskId), {
          timeoutMs: 5_000,
        });
        await expectNoOutcome(deaf.taskId);
        expect((await row(deaf.taskId)).status).toBe(TaskStatus.Cancelled);
        await taskQueueDrained();
      });

      it('ignores a cancel of a task it does not run or of an older generation, and unreadable control messages', async () => {
        const task = newTask({ params: { subject: 'slow 600' } });
        const call = await runningCall(worker, task);

        await messages.publishControl({ type: TaskControlType.Cancel, task_id: newTaskId(), attempt: 1 });
        channel.publish(Exchange.Control, '', Buffer.from('{"type": "cancel", "task_id":'));
        channel.publish(Exchange.Control, '', Buffer.from(JSON.stringify({ type: 'pause', task_id: task.taskId })));
        // A cancel from an older generation (e.g. of a previous run) does not touch this claim.
        const { attempt } = await delivery(task.taskId);
        await messages.publishControl({ type: TaskControlType.Cancel, task_id: task.taskId, attempt });
        await channel.waitForConfirms();

        await waitForEvent(task.taskId, TaskEventType.Succeeded);
        expect(call.context.signal.aborted).toBe(false);
        expect(worker.get(TaskConsumer).isConsuming()).toBe(true);
        await taskQueueDrained();
      });
    });

    describe('cancel without a broadcast: the heartbeat (TASK_LEASE_MS 1000, every 200 ms)', () => {
      let worker: INestMicroservice;
      let messages: TaskMessagePublisher;

      beforeAll(async () => {
        worker = await startWorker({ TASK_LEASE_MS: '1000', ABORT_GRACE_MS: String(ABORT_GRACE_MS) });
        messages = worker.get(TaskMessagePublisher);
      });

      afterAll(async () => {
        await worker?.close();
      });

      it('aborts the handler at the next heartbeat, within half a second, and publishes no outcome', async () => {
        const task = newTask({ params: { subject: 'slow 10000' } });
        const call = await runningCall(worker, task);

        // The broadcast is lost (broker away, worker reconnecting): only the database knows.
        expect((await tasks.control.cancel(task.taskId, new Date()))?.from).toBe(TaskStatus.Running);
        const cancelledAt = Date.now();
        await waitFor('the handler to be aborted', () => call.context.signal.aborted, {
          timeoutMs: 5_000,
          intervalMs: 20,
        });
        expect(Date.now() - cancelledAt).toBeLessThan(700);
        expect(String(call.context.signal.reason)).toMatch(/task given up: the claim was released or reclaimed/);

        await expectNoOutcome(task.taskId);
        expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Cancelled });

        const next = newTask();
        await tasks.outbox.insertPending(next);
        await messages.publishCommand(commandOf(next));
        await waitForEvent(next.taskId, TaskEventType.Succeeded);
        await taskQueueDrained();
      });
    });
  });
});
