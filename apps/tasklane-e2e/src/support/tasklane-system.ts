import { connect, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { createConnection } from 'mysql2/promise';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TaskResource, TaskType } from '@tasklane/contracts';
import {
  AppProcess,
  SystemLauncher,
  TasklaneApp,
  TcpProxy,
  TestDatabase,
  TestVhost,
  appKey,
  waitFor,
} from '@tasklane/testing';

export type AppName = TasklaneApp;

export const WORKER_OF: Record<TaskType, AppName> = {
  [TaskType.Email]: 'worker-email',
  [TaskType.Report]: 'worker-report',
  [TaskType.Analytics]: 'worker-analytics',
  [TaskType.Cleanup]: 'worker-cleanup',
};

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');

/** How long an app may take to start before the test gives up on it. */
const START_TIMEOUT_MS = 30_000;

/** The folder of one system's outbox, reports and execution log. */
function workDirOf(label: string, database: TestDatabase): string {
  return join(WORKSPACE_ROOT, 'tmp', 'e2e', `${label}-${database.name}`);
}

export interface HttpResponse<T = unknown> {
  status: number;
  body: T;
  /** The response's headers (requests made by {@link TasklaneSystem.request}). */
  headers?: Headers;
}

export interface SystemOptions {
  /** Apps to start at once (default: all six). */
  apps?: AppName[];
  /** Extra environment for every app. */
  env?: Record<string, string>;
  /** Route the apps' RabbitMQ and MySQL connections through proxies the test can cut. */
  proxies?: boolean;
  /** Keep the default schedules of migration 011 enabled (they are paused otherwise). */
  defaultSchedules?: boolean;
}

/**
 * The whole of Tasklane for one test file: its own database and RabbitMQ vhost, and the built
 * apps (`dist/apps`) as separate processes ({@link SystemLauncher}), driven over HTTP like a real
 * client would.
 */
export class TasklaneSystem {
  /** Every process this system SIGKILLed ({@link killApp}), with its log as it was when it died. */
  readonly killed: AppProcess[] = [];
  readonly workDir: string;
  /** File to which `diagnostic.sleep` appends one line per finished execution (DIAGNOSTIC_EXECUTION_LOG). */
  readonly executionLog: string;
  private broker: Promise<ChannelModel> | null = null;
  private publishChannel: Promise<ConfirmChannel> | null = null;

  private constructor(private readonly launcher: SystemLauncher) {
    this.workDir = workDirOf(launcher.label, launcher.database);
    this.executionLog = join(this.workDir, 'executions.log');
    mkdirSync(this.workDir, { recursive: true });
  }

  static async start(label: string, options: SystemOptions = {}): Promise<TasklaneSystem> {
    const launcher = await SystemLauncher.start({
      label,
      migrator: 'source',
      proxies: options.proxies,
      startTimeoutMs: START_TIMEOUT_MS,
      env: (database) => {
        const workDir = workDirOf(label, database);
        return {
          LOG_LEVEL: 'log',
          RETRY_BASE_DELAY_MS: '50',
          RETRY_MAX_DELAY_MS: '400',
          SHUTDOWN_GRACE_MS: '10000',
          MAIL_OUTBOX_DIR: join(workDir, 'outbox'),
          REPORTS_DIR: join(workDir, 'reports'),
          DIAGNOSTIC_EXECUTION_LOG: join(workDir, 'executions.log'),
          ...options.env,
        };
      },
    });
    const system = new TasklaneSystem(launcher);
    if (!options.defaultSchedules) {
      // The schedules every database starts with (the daily cleanup retention) are paused: a test
      // run crossing 03:00 UTC must not see a task it did not enqueue.
      await system.query("UPDATE task_schedules SET enabled = 0, next_run_at = NULL WHERE created_by = 'migration'");
    }
    const apps = options.apps ?? (['api-gateway', 'status-tracker', ...Object.values(WORKER_OF)] as AppName[]);
    await Promise.all(apps.map((app) => system.startApp(app)));
    return system;
  }

  /** Key of an app in {@link apps}: its name, or `<app>#<replica>` for a labelled replica. */
  static appKey(app: AppName, replica?: string): string {
    return appKey(app, replica);
  }

  /** Running apps by key: the app name, or `<app>#<replica>` for a replica started with a label. */
  get apps(): Map<string, AppProcess> {
    return this.launcher.apps;
  }

  get label(): string {
    return this.launcher.label;
  }

  get baseUrl(): string {
    return this.launcher.baseUrl;
  }

  get database(): TestDatabase {
    return this.launcher.database;
  }

  get vhost(): TestVhost {
    return this.launcher.vhost;
  }

  get brokerProxy(): TcpProxy | null {
    return this.launcher.brokerProxy;
  }

  get databaseProxy(): TcpProxy | null {
    return this.launcher.databaseProxy;
  }

  /**
   * Starts an app and waits until its `/health/ready` answers 200 (the gateway on its API port,
   * the others on a HEALTH_PORT of their own). With a `replica` label it starts another process of
   * the same app next to the running ones (its own key in {@link apps} and its own log file);
   * without one it (re)starts the app's main process.
   */
  startApp(app: AppName, env: Record<string, string> = {}, replica?: string): Promise<AppProcess> {
    return this.launcher.startApp(app, env, replica);
  }

  /** HTTP status of an app's `/health/ready` (0 when it does not answer). */
  readiness(key: string): Promise<number> {
    return this.launcher.readiness(key);
  }

  /** GET on an app's health/metrics port (the gateway: its API port). */
  async opsGet(key: string, path: string): Promise<{ status: number; body: string; contentType: string | null }> {
    const port = this.launcher.healthPort(key);
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
  }

  /** Stops an app (or one replica) with SIGTERM (graceful) and returns its exit code. */
  stopApp(app: AppName, replica?: string): Promise<number | null> {
    return this.launcher.stopApp(appKey(app, replica), 'SIGTERM');
  }

  /** Kills an app (or one replica) with SIGKILL — no shutdown hook runs — and waits until it is gone. */
  async killApp(app: AppName, replica?: string): Promise<void> {
    const key = appKey(app, replica);
    const process = this.apps.get(key);
    if (process) {
      this.killed.push(process);
    }
    await this.launcher.stopApp(key, 'SIGKILL');
  }

  async consumers(queue: string): Promise<number> {
    return (await this.queueState(queue)).consumerCount;
  }

  async queueState(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    const channel = await (await this.brokerConnection()).createChannel();
    // A missing queue closes the channel with an error; the rejected checkQueue reports it.
    channel.on('error', () => undefined);
    try {
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      return { messageCount, consumerCount };
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Publishes a message into this system's vhost straight to RabbitMQ (not through a proxy),
   * persistent and confirmed — e.g. a copy of a task command or a lifecycle event.
   */
  async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish = {}): Promise<void> {
    if (!this.publishChannel) {
      const opening: Promise<ConfirmChannel> = this.brokerConnection().then(async (connection) => {
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => undefined);
        channel.on('close', () => this.forgetPublishChannel(opening));
        return channel;
      });
      void opening.catch(() => this.forgetPublishChannel(opening));
      this.publishChannel = opening;
    }
    const channel = await this.publishChannel;
    await new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, content, { persistent: true, ...options }, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    });
  }

  /**
   * The test's own connection to the vhost, opened again if RabbitMQ dropped it (e.g. after a
   * broker restart).
   */
  brokerConnection(): Promise<ChannelModel> {
    if (!this.broker) {
      const opening: Promise<ChannelModel> = connect(this.vhost.url).then((connection) => {
        // Without a listener, a connection closed by the broker would crash the test process.
        connection.on('error', () => undefined);
        connection.on('close', () => this.forgetBroker(opening));
        return connection;
      });
      void opening.catch(() => this.forgetBroker(opening));
      this.broker = opening;
    }
    return this.broker;
  }

  private forgetBroker(connection: Promise<ChannelModel>): void {
    if (this.broker === connection) {
      this.broker = null;
      this.publishChannel = null;
    }
  }

  private forgetPublishChannel(channel: Promise<ConfirmChannel>): void {
    if (this.publishChannel === channel) {
      this.publishChannel = null;
    }
  }

  /** Rows of background_tasks, straight from the database (not through the API). */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const connection = await createConnection({ uri: this.database.url, timezone: 'Z' });
    try {
      const [rows] = await connection.query(sql, params);
      return rows as T[];
    } finally {
      await connection.end();
    }
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpResponse<T>> {
    const hasBody = body !== undefined;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: hasBody ? { 'content-type': 'application/json', ...headers } : headers,
      body: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the raw text: the assertion on it will show what came back
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get<T = unknown>(path: string): Promise<HttpResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, body?: unknown): Promise<HttpResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  async enqueue(body: Record<string, unknown>): Promise<TaskResource> {
    const response = await this.post<TaskResource>('/api/tasks/enqueue', body);
    if (response.status !== 201) {
      throw new Error(`enqueue answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }

  /** Polls GET /api/tasks/{id} until `done` holds for the task. */
  async waitForTask(taskId: string, done: (task: TaskResource) => boolean, timeoutMs = 30_000): Promise<TaskResource> {
    return waitFor(
      `task ${taskId}`,
      async () => {
        const response = await this.get<TaskResource>(`/api/tasks/${taskId}`);
        return response.status === 200 && done(response.body) ? response.body : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** RabbitMQ goes away for the apps (needs `proxies: true`); {@link restoreBroker} brings it back. */
  cutBroker(): Promise<void> {
    return this.proxy(this.brokerProxy).cut();
  }

  restoreBroker(): Promise<void> {
    return this.proxy(this.brokerProxy).restore();
  }

  /** MySQL/MariaDB goes away for the apps (needs `proxies: true`). */
  cutDatabase(): Promise<void> {
    return this.proxy(this.databaseProxy).cut();
  }

  restoreDatabase(): Promise<void> {
    return this.proxy(this.databaseProxy).restore();
  }

  private proxy(proxy: TcpProxy | null): TcpProxy {
    if (!proxy) {
      throw new Error('start the system with { proxies: true } to cut its dependencies');
    }
    return proxy;
  }

  async stop(): Promise<void> {
    await this.launcher.stopApps('together');
    const broker = this.broker;
    this.broker = null;
    await broker?.then((connection) => connection.close()).catch(() => undefined);
    await this.launcher.cleanUp().catch(() => undefined);
  }
}
