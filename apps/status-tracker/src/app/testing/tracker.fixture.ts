import { INestMicroservice, LogLevel } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Channel, ChannelModel, connect } from 'amqplib';
import { DataSource } from 'typeorm';
import { Queue, TaskName, TaskType, newTaskId } from '@tasklane/contracts';
import { AmqpConnection, listenOnBroker } from '@tasklane/messaging';
import { TaskRepositories, createTaskRepositories, NewTask, migrateUp } from '@tasklane/persistence';
import {
  TestDatabase,
  TestVhost,
  createTestDatabase,
  createTestVhost,
  setProcessEnv,
  waitFor,
} from '@tasklane/testing';
import { AppModule } from '../app.module';

/**
 * The status tracker's integration fixture: its whole AppModule in the test process, started as
 * its main starts it (a microservice on the BrokerTransport), against a vhost and a migrated
 * database of its own, plus a client channel on that vhost.
 */
export interface TrackerFixture {
  readonly app: INestMicroservice;
  readonly vhost: TestVhost;
  readonly db: TestDatabase;
  readonly tasks: TaskRepositories;
  readonly broker: ChannelModel;
  /** A plain channel of the test's own on the tracker's vhost. */
  readonly channel: Channel;
  /** A statement on the tracker's database. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Closes the tracker (once; also before `close`, to test what happens without it). */
  closeApp(): Promise<void>;
  /** Closes everything, puts the environment back, deletes the vhost and drops the database. */
  close(): Promise<void>;
}

/**
 * Starts the tracker for one spec file: `env` (the tracker's variables; HEALTH_PORT is 0, any free
 * port, unless given) is set in `process.env` while it runs. Resolves once it consumes its queue.
 */
export async function startTrackerFixture(
  label: string,
  env: Readonly<Record<string, string>>,
  logLevels: LogLevel[] = ['error', 'warn'],
): Promise<TrackerFixture> {
  const vhost = await createTestVhost(`tracker-${label}`);
  const db = await createTestDatabase(`tracker_${label.replace(/-/g, '_')}`);
  await migrateUp(db.url);
  const restoreEnv = setProcessEnv({ HEALTH_PORT: '0', ...env, AMQP_URL: vhost.url, DATABASE_URL: db.url });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  moduleRef.useLogger(logLevels);
  const app = await listenOnBroker((options) => moduleRef.createNestMicroservice(options));
  await app.get(AmqpConnection).waitUntilConnected(10_000);
  const broker = await connect(vhost.url);
  const channel = await broker.createChannel();
  await waitFor(
    'the tracker to consume its queue',
    async () => (await channel.checkQueue(Queue.StatusTracker)).consumerCount === 1,
  );
  let appClosed: Promise<void> | undefined;
  const closeApp = (): Promise<void> => (appClosed ??= app.close());
  return {
    app,
    vhost,
    db,
    tasks: createTaskRepositories(app.get(DataSource)),
    broker,
    channel,
    query: async <T>(sql: string, params: unknown[] = []) => (await app.get(DataSource).query(sql, params)) as T[],
    closeApp,
    async close() {
      await closeApp();
      await channel.close().catch(() => undefined);
      await broker.close().catch(() => undefined);
      restoreEnv();
      await vhost.delete();
      await db.drop();
    },
  };
}

/** A pending task to insert: a short `diagnostic.sleep` unless `overrides` say otherwise. */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    taskId: newTaskId(),
    taskName: TaskName.DiagnosticSleep,
    taskType: TaskType.Report,
    priority: 5,
    params: { ms: 5 },
    maxRetries: 3,
    timeoutMs: 45_000,
    createdAt: new Date(),
    ...overrides,
  };
}

export { commandOfTask as commandOf } from '@tasklane/persistence/testing';
