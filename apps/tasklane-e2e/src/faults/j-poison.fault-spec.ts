import {
  DeadLetterHeader,
  Exchange,
  Queue,
  TaskType,
  eventRoutingKey,
  TaskEventType,
  newTaskId,
  taskQueueName,
  taskRoutingKey,
} from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, faultScenario, logLines } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

interface DeadLetter {
  body: string;
  reason: string;
  source: string;
}

describe('fault: poison messages', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-j', { apps: [...CORE_APPS, 'worker-email'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function insertPendingRow(taskName: string, params: Record<string, unknown>): Promise<string> {
    const taskId = newTaskId();
    // Already dispatched: the only message for it is the poison one below.
    await system.query(
      `INSERT INTO background_tasks (task_id, task_name, task_type, priority, status, params, retry_count, max_retries,
         created_at, dispatched_at)
       VALUES (?, ?, 'email', 5, 'pending', ?, 0, 3, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      [taskId, taskName, JSON.stringify(params)],
    );
    return taskId;
  }

  async function deadLetters(): Promise<DeadLetter[]> {
    const channel = await (await system.brokerConnection()).createChannel();
    const letters: DeadLetter[] = [];
    try {
      for (let message = await channel.get(Queue.DeadLetter); message; message = await channel.get(Queue.DeadLetter)) {
        const headers = message.properties.headers ?? {};
        letters.push({
          body: message.content.toString('utf8'),
          reason: String(headers[DeadLetterHeader.Reason]),
          source: String(headers[DeadLetterHeader.SourceQueue]),
        });
      }
    } finally {
      // Unacknowledged: closing the channel puts them back in the queue.
      await channel.close().catch(() => undefined);
    }
    return letters;
  }

  faultScenario('j. poison messages: garbage, unknown task_name, invalid params', async (scenario) => {
    const load = startLoad(system, { count: 40, concurrency: 4, taskType: TaskType.Email, sleepMs: [50, 200] });

    const unknownName = await insertPendingRow('email.unknown', {});
    const invalidParams = await insertPendingRow('email.send', { to: 'not-an-email', subject: 'Hi', body: 'Hi' });
    const command = (taskId: string, taskName: string, params: Record<string, unknown>) =>
      Buffer.from(
        JSON.stringify({
          task_id: taskId,
          task_name: taskName,
          task_type: 'email',
          params,
          priority: 5,
          max_retries: 3,
          retry_count: 0,
        }),
      );
    const route = taskRoutingKey(TaskType.Email);
    await system.publish(Exchange.Tasks, route, Buffer.from('this is not JSON {'), { messageId: 'garbage' });
    await system.publish(Exchange.Tasks, route, command(unknownName, 'email.unknown', {}), { priority: 5 });
    await system.publish(
      Exchange.Tasks,
      route,
      command(invalidParams, 'email.send', { to: 'not-an-email', subject: 'Hi', body: 'Hi' }),
      { priority: 5 },
    );
    // And a malformed lifecycle event for the status tracker.
    await system.publish(Exchange.Events, eventRoutingKey(TaskEventType.Started), Buffer.from('{"event":"started"}'));

    await load.done;
    await waitFor('four dead letters', async () => (await system.queueState(Queue.DeadLetter)).messageCount >= 4, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const figures = await scenario.check(system, { accepted: load.accepted, exclude: [unknownName, invalidParams] });

    // No loop: nothing is redelivered, nothing more is dead-lettered, the queues are empty.
    await sleep(3_000);
    const worker = system.apps.get('worker-email');
    const poisonLogged = logLines(worker, '"poison message sent to the dead-letter queue"').length;
    const tasksQueue = await system.queueState(taskQueueName(TaskType.Email));
    const eventsQueue = await system.queueState(Queue.StatusTracker);
    const letters = await deadLetters();
    const rows = new Map([...figures.rows.values()].map((row) => [row.task_id, row]));

    scenario.note(
      `${letters.length} dead letters (${letters.map((letter) => letter.reason.split(':')[0]).join('; ')}); ` +
        `poison rows: ${rows.get(unknownName)?.status}, ${rows.get(invalidParams)?.status}; ` +
        `task queue ${tasksQueue.messageCount} and event queue ${eventsQueue.messageCount} messages left after 3 s`,
    );
    expect(letters).toHaveLength(4);
    expect(poisonLogged).toBe(3);
    expect(tasksQueue.messageCount).toBe(0);
    expect(eventsQueue.messageCount).toBe(0);
    expect(letters).toEqual(
      expect.arrayContaining([
        { body: 'this is not JSON {', reason: 'message body is not valid JSON', source: taskQueueName(TaskType.Email) },
        expect.objectContaining({ reason: 'unknown task_name "email.unknown"', source: taskQueueName(TaskType.Email) }),
        expect.objectContaining({
          reason: expect.stringMatching(/^invalid params: params\.to must be an email/),
          source: taskQueueName(TaskType.Email),
        }),
        expect.objectContaining({ reason: 'task_id must be a UUID', source: Queue.StatusTracker }),
      ]),
    );
    expect(rows.get(unknownName)).toMatchObject({
      status: 'failed',
      error_message: 'unprocessable message: unknown task_name "email.unknown"',
    });
    expect(rows.get(invalidParams)).toMatchObject({
      status: 'failed',
      error_message: expect.stringMatching(/^unprocessable message: invalid params: params\.to must be an email/),
    });
  });
});
