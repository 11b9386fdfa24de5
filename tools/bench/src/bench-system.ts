import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Pool, createPool } from 'mysql2/promise';
import { TaskStatus } from '@tasklane/contracts';
import {
  AppProcess,
  TestDatabase,
  TestVhost,
  createTestDatabase,
  createTestVhost,
  freePort,
  waitFor,
} from '@tasklane/testing';

const WORKSPACE_ROOT = resolve(__dirname, '../../..');
const START_TIMEOUT_MS = 60_000;

export type AppName = 'api-gateway' | 'status-tracker' | 'worker-email';

export interface BenchSystemOptions {
  /** Environment for every app (log level, worker concurrency, …). */
  env: Record<string, string>;
  /** Options for node running each app (e.g. `--cpu-prof`). */
  nodeOptions: string[];
  workerReplicas: number;
}

interface RunningApp {
  process: AppProcess;
  healthUrl: string;
}

/**
 * The system under test: a fresh database and RabbitMQ vhost of its own, migrations applied, and
 * the built apps (`dist/apps`) as separate processes — the gateway, the status tracker and the
 * email worker (the no-op `diagnostic.sleep` tasks run on it).
 */
export class BenchSystem {
  readonly apps = new Map<string, RunningApp>();
  readonly baseUrl: string;
  readonly db: Pool;
  /** AMQP_URL of the run's vhost. */
  readonly amqpUrl: string;

  private constructor(
    private readonly database: TestDatabase,
    private readonly vhost: TestVhost,
    private readonly port: number,
    private readonly env: Record<string, string>,
    private readonly nodeOptions: string[],
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.amqpUrl = vhost.url;
    this.db = createPool({ uri: database.url, connectionLimit: 2, dateStrings: false, timezone: 'Z' });
  }

  static async start(options: BenchSystemOptions): Promise<BenchSystem> {
    const database = await createTestDatabase('bench');
    const vhost = await createTestVhost('bench');
    await promisify(execFile)(
      process.execPath,
      [join(WORKSPACE_ROOT, 'dist', 'apps', 'db-migrator', 'main.js'), 'up'],
      {
        cwd: WORKSPACE_ROOT,
        env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'warn' },
      },
    );
    const port = await freePort();
    const system = new BenchSystem(
      database,
      vhost,
      port,
      {
        AMQP_URL: vhost.url,
        DATABASE_URL: database.url,
        PORT: String(port),
        ...options.env,
      },
      options.nodeOptions,
    );
    await system.startApp('api-gateway');
    await system.startApp('status-tracker');
    for (let replica = 1; replica <= options.workerReplicas; replica += 1) {
      await system.startApp('worker-email', replica);
    }
    return system;
  }

  get databaseName(): string {
    return this.database.name;
  }

  /** Starts an app (a worker replica by number) and waits until it is ready. */
  async startApp(app: AppName, replica?: number): Promise<void> {
    const key = replica === undefined ? app : `${app}#${replica}`;
    const healthPort = app === 'api-gateway' ? this.port : await freePort();
    const process = new AppProcess(
      app,
      { ...this.env, HEALTH_PORT: String(healthPort) },
      `bench-${key.replace('#', '-')}`,
      this.nodeOptions,
    );
    const healthUrl = `http://127.0.0.1:${healthPort}/health/ready`;
    this.apps.set(key, { process, healthUrl });
    await waitFor(
      `${key} to be ready`,
      async () => {
        if (!process.running) {
          throw new Error(`${key} exited while starting; see tmp/e2e-logs/bench-*.log`);
        }
        const response = await fetch(healthUrl).catch(() => null);
        return response?.status === 200;
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    );
  }

  async stopApp(key: string): Promise<void> {
    await this.apps.get(key)?.process.stop('SIGTERM');
    this.apps.delete(key);
  }

  /** Keys of the running worker replicas. */
  workers(): string[] {
    return [...this.apps.keys()].filter((key) => key.startsWith('worker-'));
  }

  /** Pids of the running apps, grouped by app (replicas together). */
  pidsByApp(): Map<string, number[]> {
    const pids = new Map<string, number[]>();
    for (const [key, app] of this.apps) {
      const name = key.split('#')[0];
      if (app.process.pid !== undefined) {
        pids.set(name, [...(pids.get(name) ?? []), app.process.pid]);
      }
    }
    return pids;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.db.query(sql, params);
    return rows as T[];
  }

  /** Empties the task tables between workloads, once the apps are idle (their last events written). */
  async clearTasks(): Promise<void> {
    await new Promise((done) => setTimeout(done, 1_000));
    await this.query('DELETE FROM background_task_runs');
    // TRUNCATE fires no trigger: the counts are emptied with it (nothing writes meanwhile).
    await this.query('TRUNCATE TABLE background_tasks');
    await this.query('TRUNCATE TABLE background_task_count_changes');
    await this.query('TRUNCATE TABLE background_task_counts');
  }

  /** Waits until the status tracker has folded every count change into the counts (ADR 0009). */
  async waitForCountsFolded(timeoutMs: number): Promise<void> {
    await waitFor(
      'the count changes to be folded',
      async () => {
        const [row] = await this.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_task_count_changes');
        return Number(row.n) === 0;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  async countByStatus(status: TaskStatus): Promise<number> {
    const [row] = await this.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks WHERE status = ?', [
      status,
    ]);
    return Number(row.n);
  }

  /** Waits (bounded) until `expected` tasks are completed; returns how many were when it stopped. */
  async waitForCompleted(expected: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let completed = 0;
    while (Date.now() < deadline) {
      completed = await this.countByStatus(TaskStatus.Completed);
      if (completed >= expected) {
        return completed;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    return completed;
  }

  async stop(): Promise<void> {
    for (const key of [...this.apps.keys()].reverse()) {
      await this.stopApp(key);
    }
    await this.db.end();
    await this.database.drop();
    await this.vhost.delete();
  }
}
