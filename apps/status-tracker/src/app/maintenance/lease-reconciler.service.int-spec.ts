import { GetMessage } from 'amqplib';
import { Connection as MysqlConnection, createConnection } from 'mysql2/promise';
import { Queue, TaskCommand, TaskEventType, TaskStatus, TaskType, taskQueueName } from '@tasklane/contracts';
import { TaskMessagePublisher } from '@tasklane/messaging';
import { TaskRepositories, NewTask, TrackerReplicaRepository } from '@tasklane/persistence';
import { TestDatabase, TestVhost, jsonBodies, takeAll, waitFor } from '@tasklane/testing';
import { TrackerFixture, newTask as fixtureTask, startTrackerFixture } from '../testing/tracker.fixture';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const ENV = {
  DATABASE_POOL_SIZE: '3',
  SHUTDOWN_GRACE_MS: '2000',
  // One event per batch, written at once: an event held up by a row lock keeps the tracker busy.
  TRACKER_BATCH_SIZE: '1',
  OUTBOX_RELAY_INTERVAL_MS: '100',
  OUTBOX_RELAY_MIN_AGE_MS: '200',
  RECONCILE_INTERVAL_MS: '100',
  LEASE_EXPIRY_GRACE_MS: '100',
  TRACKER_HEARTBEAT_INTERVAL_MS: '200',
  TRACKER_REPLICA_TIMEOUT_MS: '3000',
};
const QUEUE = taskQueueName(TaskType.Analytics);
/** A lease that expires during the test (plus the 100 ms grace, it is reclaimable after ~300 ms). */
const SHORT_LEASE_MS = 200;
const LONG_LEASE_MS = 600_000;

interface Delivery {
  status: TaskStatus;
  retry_count: number;
  attempt: number;
  started_at: Date | null;
  lease_expires_at: Date | null;
  dispatched_at: Date | null;
}

function newTask(): NewTask {
  return fixtureTask({ taskType: TaskType.Analytics });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('LeaseReconcilerService (status tracker, RabbitMQ + MariaDB)', () => {
  let tracker: TrackerFixture;
  let vhost: TestVhost;
  let db: TestDatabase;
  let tasks: TaskRepositories;
  let messages: TaskMessagePublisher;
  /** Every command taken off the analytics queue so far. */
  const commands: GetMessage[] = [];

  async function takeCommands(): Promise<void> {
    commands.push(...(await takeAll(tracker.channel, QUEUE)));
  }

  function commandsOf(taskId: string): TaskCommand[] {
    return jsonBodies<TaskCommand>(commands).filter((command) => command.task_id === taskId);
  }

  async function delivery(taskId: string): Promise<Delivery> {
    const [found] = await tracker.query<Delivery>(
      'SELECT status, retry_count, attempt, started_at, lease_expires_at, dispatched_at FROM background_tasks WHERE task_id = ?',
      [taskId],
    );
    return found;
  }

  /** A task as a worker leaves it after claiming it: published (dispatched), running under a lease. */
  async function claimed(leaseMs: number, retryCount = 0): Promise<{ task: NewTask; attempt: number }> {
    const task = newTask();
    await tasks.outbox.insertPending(task);
    await tasks.outbox.markDispatched([task.taskId], new Date());
    const attempt = await tasks.claims.claim(task.taskId, retryCount, new Date(), leaseMs);
    if (attempt === null) {
      throw new Error(`task ${task.taskId} could not be claimed`);
    }
    return { task, attempt };
  }

  function handedBackAndRelayed(task: NewTask): Promise<TaskCommand> {
    return waitFor(
      `task ${task.taskId} to be handed back and its command relayed to ${QUEUE}`,
      async () => {
        await takeCommands();
        return commandsOf(task.taskId)[0];
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  beforeAll(async () => {
    tracker = await startTrackerFixture('reconciler', ENV, ['error']);
    ({ vhost, db, tasks } = tracker);
    messages = tracker.app.get(TaskMessagePublisher);
  });

  afterAll(async () => {
    await tracker?.close();
  });

  it('hands back a running task whose lease expired (pending, next generation), and the relay republishes it', async () => {
    const { task: expired, attempt } = await claimed(SHORT_LEASE_MS, 2);
    const { task: live, attempt: liveAttempt } = await claimed(LONG_LEASE_MS);
    const liveBefore = await delivery(live.taskId);

    const command = await handedBackAndRelayed(expired);

    // The same retry runs again: a crash does not use one up.
    expect(command).toEqual({
      task_id: expired.taskId,
      task_name: expired.taskName,
      task_type: expired.taskType,
      params: expired.params,
      priority: expired.priority,
      max_retries: expired.maxRetries,
      retry_count: 2,
      timeout_ms: 45_000,
    });
    const handedBack = await waitFor('the relay to record the dispatch', async () => {
      const current = await delivery(expired.taskId);
      return current.dispatched_at !== null ? current : false;
    });
    expect(handedBack).toMatchObject({
      status: TaskStatus.Pending,
      retry_count: 2,
      attempt: attempt + 1,
      started_at: null,
      lease_expires_at: null,
    });
    // Claimable by the next worker, as a new generation.
    expect(await tasks.claims.claim(expired.taskId, 2, new Date(), LONG_LEASE_MS)).toBe(attempt + 2);

    // A task with a live lease, claimed at the same time, was left alone all along.
    expect(await delivery(live.taskId)).toEqual(liveBefore);
    expect(liveBefore).toMatchObject({ status: TaskStatus.Running, attempt: liveAttempt });
    await takeCommands();
    expect(commandsOf(live.taskId)).toEqual([]);
  });

  it('keeps a live lease while its worker renews it, and hands the task back once renewals stop', async () => {
    const { task, attempt } = await claimed(1_000);
    // A worker's heartbeats: every 200 ms, for 1.5 s — longer than the lease itself.
    const renewUntil = Date.now() + 1_500;
    while (Date.now() < renewUntil) {
      expect(await tasks.claims.heartbeat([{ taskId: task.taskId, attempt }], 1_000)).toEqual([]);
      await sleep(200);
    }
    expect(await delivery(task.taskId)).toMatchObject({ status: TaskStatus.Running, attempt });
    await takeCommands();
    expect(commandsOf(task.taskId)).toEqual([]);

    // The worker dies: after the lease and the grace, the task comes back.
    await handedBackAndRelayed(task);
    expect(await delivery(task.taskId)).toMatchObject({ status: TaskStatus.Pending, attempt: attempt + 1 });
  });

  it('does not reclaim while the tracker has events left to write: a queued outcome decides the task', async () => {
    // A worker finished this task and published its outcome, then stopped renewing the lease.
    const { task: finished, attempt } = await claimed(SHORT_LEASE_MS);
    const { task: other, attempt: otherAttempt } = await claimed(LONG_LEASE_MS);

    // The tracker is held up by another event (its row is locked), so the outcome stays queued.
    const blocker: MysqlConnection = await createConnection(db.url);
    try {
      await blocker.beginTransaction();
      await blocker.query('SELECT id FROM background_tasks WHERE task_id = ? FOR UPDATE', [other.taskId]);
      const base = (task: NewTask, generation: number) => ({
        task_id: task.taskId,
        task_name: task.taskName,
        task_type: task.taskType,
        retry_count: 0,
        attempt: generation,
        occurred_at: new Date().toISOString(),
      });
      await messages.publishEvent({ event: TaskEventType.Succeeded, ...base(other, otherAttempt), result: 'other' });
      await messages.publishEvent({ event: TaskEventType.Succeeded, ...base(finished, attempt), result: 'finished' });
      await waitFor(
        'both events to be taken by the tracker and held unwritten',
        async () => {
          const counts = await vhost.queueCounts(Queue.StatusTracker);
          return counts.unacked === 2;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );

      // Well past the lease and the grace, over many reconciler runs: still not handed back.
      await sleep(1_500);
      expect(await delivery(finished.taskId)).toMatchObject({ status: TaskStatus.Running, attempt });
      expect((await delivery(finished.taskId)).lease_expires_at).not.toBeNull();

      await blocker.commit();
    } finally {
      await blocker.end();
    }

    // Once written, the outcome decides: completed, never re-run.
    await waitFor('the queued outcome to be written', async () => {
      const current = await tasks.queries.findByTaskId(finished.taskId);
      return current?.status === TaskStatus.Completed ? current : false;
    });
    expect(await tasks.queries.findByTaskId(finished.taskId)).toMatchObject({ result: 'finished' });
    expect(await delivery(finished.taskId)).toMatchObject({ attempt, lease_expires_at: null });
    expect((await tasks.queries.findByTaskId(other.taskId))?.status).toBe(TaskStatus.Completed);

    // And the reconciler is running again: a fresh expired lease is handed back.
    const { task: dead } = await claimed(SHORT_LEASE_MS);
    await handedBackAndRelayed(dead);
    await takeCommands();
    expect(commandsOf(finished.taskId)).toEqual([]);
  });

  it('with another tracker running, waits until that one has written what it received; a dead one is ignored', async () => {
    const replicas = tracker.app.get(TrackerReplicaRepository);
    // Another replica reports itself alive, still holding an event it received a minute ago.
    let holding = true;
    let alive = true;
    const other = (async () => {
      while (alive) {
        await replicas.report('other-tracker', holding ? 60_000 : 0);
        await sleep(150);
      }
    })();
    try {
      await sleep(300);
      const { task, attempt } = await claimed(SHORT_LEASE_MS);
      await sleep(2_000);
      expect(await delivery(task.taskId)).toMatchObject({ status: TaskStatus.Running, attempt });

      // It wrote it: the lease is reclaimed at the next run.
      holding = false;
      await handedBackAndRelayed(task);

      // It holds something again, then dies (stops reporting): once its report is older than
      // TRACKER_REPLICA_TIMEOUT_MS (its deliveries would be back in the queue by then), it is ignored.
      holding = true;
      await sleep(300);
      const { task: later, attempt: laterAttempt } = await claimed(SHORT_LEASE_MS);
      await sleep(1_500);
      expect(await delivery(later.taskId)).toMatchObject({ status: TaskStatus.Running, attempt: laterAttempt });
      alive = false;
      await other;
      await handedBackAndRelayed(later);
    } finally {
      alive = false;
      await other;
      await replicas.remove('other-tracker');
    }
  });
});
