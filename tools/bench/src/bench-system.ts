import { Pool, createPool } from 'mysql2/promise';
import { TaskStatus } from '@tasklane/contracts';
import { AppProcess, SystemLauncher, waitFor } from '@tasklane/testing';

const START_TIMEOUT_MS = 60_000;

export type AppName = 'api-gateway' | 'status-tracker' | 'worker-email';

export interface BenchSystemOptions {
  /** Environment for every app (log level, worker concurrency, …). */
  env: Record<string, string>;
  /** Options for node running each app (e.g. `--cpu-prof`). */
  nodeOptions: string[];
  workerReplicas: number;
}

/**
 * The system under test ({@link SystemLauncher}): a fresh database and RabbitMQ vhost of its own,
 * migrations applied, and the built apps (`dist/apps`) as separate processes — the gateway, the
 * status tracker and the email worker (the no-op `diagnostic.sleep` tasks run on it).
 */
export class BenchSystem {
  readonly db: Pool;

  private constructor(private readonly launcher: SystemLauncher) {
    this.db = createPool({ uri: launcher.database.url, connectionLimit: 2, dateStrings: false, timezone: 'Z' });
  }

  static async start(options: BenchSystemOptions): Promise<BenchSystem> {
    const launcher = await SystemLauncher.start({
      label: 'bench',
      migrator: 'build',
      env: () => options.env,
      nodeOptions: options.nodeOptions,
      startTimeoutMs: START_TIMEOUT_MS,
    });
    const system = new BenchSystem(launcher);
    await system.startApp('api-gateway');
    await system.startApp('status-tracker');
    for (let replica = 1; replica <= options.workerReplicas; replica += 1) {
      await system.startApp('worker-email', replica);
    }
    return system;
  }

  /** Running apps by key: the app name, or `<app>#<replica>` for a worker replica. */
  get apps(): Map<string, AppProcess> {
    return this.launcher.apps;
  }

  get baseUrl(): string {
    return this.launcher.baseUrl;
  }

  /** AMQP_URL of the run's vhost. */
  get amqpUrl(): string {
    return this.launcher.vhost.url;
  }

  get databaseName(): string {
    return this.launcher.database.name;
  }

  /** DATABASE_URL of the run's database, as the apps get it. */
  get databaseUrl(): string {
    return this.launcher.database.url;
  }

  /** An app's Prometheus endpoint (its health port; the gateway's API port). */
  metricsUrl(key: string): string {
    return `http://127.0.0.1:${this.launcher.healthPort(key)}/metrics`;
  }

  /** Starts an app (a worker replica by number) and waits until it is ready. */
  async startApp(app: AppName, replica?: number): Promise<void> {
    await this.launcher.startApp(app, {}, replica);
  }

  /**
   * Stops an app's main process and starts it again with `env` on top of the system's (an empty
   * `env` gives it back its usual environment); waits until it is ready.
   */
  async restartApp(app: AppName, env: Record<string, string>): Promise<void> {
    await this.launcher.stopApp(app);
    await this.launcher.startApp(app, env);
  }

  async stopApp(key: string): Promise<void> {
    await this.launcher.stopApp(key);
  }

  /** Keys of the running worker replicas. */
  workers(): string[] {
    return [...this.apps.keys()].filter((key) => key.startsWith('worker-'));
  }

  /** Pids of the running apps, grouped by app (replicas together). */
  pidsByApp(): Map<string, number[]> {
    return this.launcher.pidsByApp();
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
    await this.launcher.stopApps('last-first');
    await this.db.end();
    await this.launcher.cleanUp();
  }
}
