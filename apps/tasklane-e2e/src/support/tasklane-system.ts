import { connect, ChannelModel } from 'amqplib';
import { createConnection } from 'mysql2/promise';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Queue, TaskResource, TaskType, taskQueueName } from '@tasklane/contracts';
import {
  AppProcess,
  TcpProxy,
  TestDatabase,
  TestVhost,
  createTestDatabase,
  createTestVhost,
  waitFor,
} from '@tasklane/testing';

export type AppName =
  | 'api-gateway'
  | 'status-tracker'
  | 'worker-email'
  | 'worker-report'
  | 'worker-analytics'
  | 'worker-cleanup';

export const WORKER_OF: Record<TaskType, AppName> = {
  [TaskType.Email]: 'worker-email',
  [TaskType.Report]: 'worker-report',
  [TaskType.Analytics]: 'worker-analytics',
  [TaskType.Cleanup]: 'worker-cleanup',
};

const QUEUE_OF: Partial<Record<AppName, string>> = {
  'status-tracker': Queue.StatusTracker,
  'worker-email': taskQueueName(TaskType.Email),
  'worker-report': taskQueueName(TaskType.Report),
  'worker-analytics': taskQueueName(TaskType.Analytics),
  'worker-cleanup': taskQueueName(TaskType.Cleanup),
};

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
const run = promisify(execFile);

export interface HttpResponse<T = unknown> {
  status: number;
  body: T;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface SystemOptions {
  /** Apps to start at once (default: all six). */
  apps?: AppName[];
  /** Extra environment for every app. */
  env?: Record<string, string>;
  /** Route the apps' RabbitMQ and MySQL connections through proxies the test can cut. */
  proxies?: boolean;
}

/**
 * The whole of Tasklane for one test file: its own database and RabbitMQ vhost, and the built
 * apps (`dist/apps`) as separate processes, driven over HTTP like a real client would.
 */
export class TasklaneSystem {
  readonly apps = new Map<AppName, AppProcess>();
  readonly baseUrl: string;
  readonly workDir: string;
  private broker: ChannelModel | null = null;

  private constructor(
    readonly label: string,
    readonly database: TestDatabase,
    readonly vhost: TestVhost,
    private readonly port: number,
    private readonly env: Record<string, string>,
    readonly brokerProxy: TcpProxy | null,
    readonly databaseProxy: TcpProxy | null,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.workDir = join(WORKSPACE_ROOT, 'tmp', 'e2e', `${label}-${database.name}`);
    mkdirSync(this.workDir, { recursive: true });
  }

  static async start(label: string, options: SystemOptions = {}): Promise<TasklaneSystem> {
    const database = await createTestDatabase(label);
    const vhost = await createTestVhost(label);
    await run(process.execPath, ['-r', '@swc-node/register', 'libs/persistence/src/lib/cli/migrate.ts', 'up'], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, DATABASE_URL: database.url, SWC_NODE_PROJECT: 'tsconfig.base.json' },
    });
    let brokerProxy: TcpProxy | null = null;
    let databaseProxy: TcpProxy | null = null;
    let amqpUrl = vhost.url;
    let databaseUrl = database.url;
    if (options.proxies) {
      brokerProxy = await TcpProxy.start('127.0.0.1', 5672);
      databaseProxy = await TcpProxy.start('127.0.0.1', 3306);
      amqpUrl = vhost.url.replace(':5672', `:${brokerProxy.port}`);
      databaseUrl = database.url.replace(':3306', `:${databaseProxy.port}`);
    }
    const port = await freePort();
    const system = new TasklaneSystem(label, database, vhost, port, {}, brokerProxy, databaseProxy);
    Object.assign(system.env, {
      AMQP_URL: amqpUrl,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      LOG_LEVEL: 'log',
      RETRY_BASE_DELAY_MS: '50',
      RETRY_MAX_DELAY_MS: '400',
      SHUTDOWN_GRACE_MS: '10000',
      MAIL_OUTBOX_DIR: join(system.workDir, 'outbox'),
      REPORTS_DIR: join(system.workDir, 'reports'),
      ...options.env,
    });
    system.broker = await connect(vhost.url);
    const apps = options.apps ?? (['api-gateway', 'status-tracker', ...Object.values(WORKER_OF)] as AppName[]);
    await Promise.all(apps.map((app) => system.startApp(app)));
    return system;
  }

  /** Starts an app and waits until it serves (gateway) or consumes its queue (the others). */
  async startApp(app: AppName, env: Record<string, string> = {}): Promise<AppProcess> {
    const process = new AppProcess(app, { ...this.env, ...env }, `${this.label}-${app}`);
    this.apps.set(app, process);
    const queue = QUEUE_OF[app];
    if (queue === undefined) {
      await waitFor(`${app} to answer`, async () => (await this.get('/api/tasks/count/all')).status === 200, {
        timeoutMs: 30_000,
      });
      // Until /health/ready exists, the gateway's log says when it can publish.
      await waitFor(`${app} to connect to RabbitMQ`, () => process.logs().includes('"connected to RabbitMQ"'), {
        timeoutMs: 30_000,
      });
    } else {
      await waitFor(`${app} to consume ${queue}`, async () => (await this.consumers(queue)) > 0, { timeoutMs: 30_000 });
    }
    return process;
  }

  /** Stops an app with SIGTERM (graceful) and returns its exit code. */
  async stopApp(app: AppName): Promise<number | null> {
    const process = this.apps.get(app);
    this.apps.delete(app);
    return process ? process.stop('SIGTERM') : null;
  }

  async consumers(queue: string): Promise<number> {
    return (await this.queueState(queue)).consumerCount;
  }

  async queueState(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    if (!this.broker) {
      throw new Error('not connected');
    }
    const channel = await this.broker.createChannel();
    // A missing queue closes the channel with an error; the rejected checkQueue reports it.
    channel.on('error', () => undefined);
    try {
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      return { messageCount, consumerCount };
    } finally {
      await channel.close().catch(() => undefined);
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
    return { status: response.status, body: parsed as T };
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
    await Promise.all([...this.apps.keys()].map((app) => this.stopApp(app)));
    await this.broker?.close().catch(() => undefined);
    await this.brokerProxy?.stop();
    await this.databaseProxy?.stop();
    await this.vhost.delete().catch(() => undefined);
    await this.database.drop().catch(() => undefined);
  }
}
