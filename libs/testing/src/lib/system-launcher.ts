import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AppProcess } from './app-process';
import { freePort } from './free-port';
import { TcpProxy } from './tcp-proxy';
import { TestDatabase, createTestDatabase } from './test-database';
import { TestVhost, createTestVhost } from './test-vhost';
import { waitFor } from './wait-for';

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
const run = promisify(execFile);

/** The Tasklane apps a {@link SystemLauncher} can start (each its built `dist/apps/<name>/main.js`). */
export type TasklaneApp =
  | 'api-gateway'
  | 'status-tracker'
  | 'worker-email'
  | 'worker-report'
  | 'worker-analytics'
  | 'worker-cleanup';

export interface SystemLauncherOptions {
  /** Names the database, the vhost and the apps' logs (`tmp/e2e-logs/<label>-<app>[-<replica>].log`). */
  label: string;
  /**
   * How the db-migrator runs: from its TypeScript source (through @swc-node/register, so it need
   * not be built) or from its build (`dist/apps/db-migrator/main.js`).
   */
  migrator: 'source' | 'build';
  /** Environment for every app on top of AMQP_URL, DATABASE_URL and PORT (and overriding them). */
  env?: (database: TestDatabase) => Record<string, string>;
  /** Options for node running each app (e.g. `--cpu-prof`). */
  nodeOptions?: readonly string[];
  /** Route the apps' RabbitMQ and MySQL connections through proxies that can be cut. */
  proxies?: boolean;
  /** How long an app may take to become ready (default 30 s). */
  startTimeoutMs?: number;
}

/** Key of an app in {@link SystemLauncher.apps}: its name, or `<app>#<replica>` for a replica. */
export function appKey(app: TasklaneApp, replica?: string | number): string {
  return replica === undefined ? app : `${app}#${replica}`;
}

/**
 * Tasklane as separate processes against a database and a RabbitMQ vhost of its own: creates
 * both, applies the migrations, starts the built apps (each on ports of its own) and waits until
 * they are ready, stops them, and removes the database and the vhost again. The e2e suite's
 * `TasklaneSystem` and the bench's `BenchSystem` are thin layers over it.
 */
export class SystemLauncher {
  /** Running apps by {@link appKey}. */
  readonly apps = new Map<string, AppProcess>();
  /** The gateway's API (and health) base URL. */
  readonly baseUrl: string;
  private readonly healthPorts = new Map<string, number>();
  private readonly nodeOptions: readonly string[];
  private readonly startTimeoutMs: number;

  private constructor(
    readonly label: string,
    readonly database: TestDatabase,
    readonly vhost: TestVhost,
    /** The gateway's port. */
    readonly port: number,
    /** Environment of every app (HEALTH_PORT aside). */
    readonly env: Readonly<Record<string, string>>,
    readonly brokerProxy: TcpProxy | null,
    readonly databaseProxy: TcpProxy | null,
    options: SystemLauncherOptions,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.nodeOptions = options.nodeOptions ?? [];
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
  }

  /** Creates the database and the vhost, migrates, and (with `proxies`) opens the proxies; starts no app. */
  static async start(options: SystemLauncherOptions): Promise<SystemLauncher> {
    const database = await createTestDatabase(options.label);
    const vhost = await createTestVhost(options.label);
    const migratorEnv = { ...process.env, DATABASE_URL: database.url };
    if (options.migrator === 'source') {
      await run(process.execPath, ['-r', '@swc-node/register', 'apps/db-migrator/src/main.ts', 'up'], {
        cwd: WORKSPACE_ROOT,
        env: { ...migratorEnv, SWC_NODE_PROJECT: 'tsconfig.base.json' },
      });
    } else {
      await run(process.execPath, [join(WORKSPACE_ROOT, 'dist', 'apps', 'db-migrator', 'main.js'), 'up'], {
        cwd: WORKSPACE_ROOT,
        env: { ...migratorEnv, LOG_LEVEL: 'warn' },
      });
    }
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
    const env = { AMQP_URL: amqpUrl, DATABASE_URL: databaseUrl, PORT: String(port), ...options.env?.(database) };
    return new SystemLauncher(options.label, database, vhost, port, env, brokerProxy, databaseProxy, options);
  }

  /**
   * Starts an app and waits until its `/health/ready` answers 200 (the gateway on its API port,
   * the others on a HEALTH_PORT of their own). With a `replica` it starts another process of the
   * same app next to the running ones (its own key in {@link apps} and its own log file); without
   * one it (re)starts the app's main process.
   */
  async startApp(app: TasklaneApp, env: Record<string, string> = {}, replica?: string | number): Promise<AppProcess> {
    const key = appKey(app, replica);
    const logLabel = replica === undefined ? `${this.label}-${app}` : `${this.label}-${app}-${replica}`;
    const healthPort = app === 'api-gateway' ? this.port : await freePort();
    const process = new AppProcess(
      app,
      { ...this.env, HEALTH_PORT: String(healthPort), ...env },
      logLabel,
      this.nodeOptions,
    );
    this.apps.set(key, process);
    this.healthPorts.set(key, healthPort);
    await waitFor(
      `${key} to be ready`,
      async () => {
        if (!process.running) {
          throw new Error(`${key} exited while starting; its log: tmp/e2e-logs/${logLabel}.log`);
        }
        return (await this.readiness(key)) === 200;
      },
      { timeoutMs: this.startTimeoutMs, intervalMs: 100 },
    );
    return process;
  }

  /** The port of an app's health and metrics endpoints (the gateway: its API port). */
  healthPort(key: string): number {
    const port = this.healthPorts.get(key);
    if (port === undefined) {
      throw new Error(`${key} is not running`);
    }
    return port;
  }

  /** HTTP status of an app's `/health/ready` (0 when it does not answer). */
  async readiness(key: string): Promise<number> {
    const port = this.healthPort(key);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(3_000) });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  /**
   * Stops an app by key with `signal` (SIGTERM: graceful; SIGKILL: no shutdown hook runs), waits
   * until it is gone and returns its exit code (null when it was not running or died of a signal).
   */
  async stopApp(key: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const process = this.apps.get(key);
    this.apps.delete(key);
    return process ? process.stop(signal) : null;
  }

  /** Stops every app with SIGTERM: all at once, or one by one from the last started to the first. */
  async stopApps(order: 'together' | 'last-first' = 'together'): Promise<void> {
    if (order === 'together') {
      const running = [...this.apps.values()];
      this.apps.clear();
      await Promise.all(running.map((process) => process.stop('SIGTERM')));
      return;
    }
    for (const key of [...this.apps.keys()].reverse()) {
      await this.stopApp(key);
    }
  }

  /** Pids of the running apps, grouped by app (replicas together). */
  pidsByApp(): Map<string, number[]> {
    const pids = new Map<string, number[]>();
    for (const [key, process] of this.apps) {
      const name = key.split('#')[0];
      if (process.pid !== undefined) {
        pids.set(name, [...(pids.get(name) ?? []), process.pid]);
      }
    }
    return pids;
  }

  /**
   * After {@link stopApps}: closes the proxies and removes the vhost and the database — both
   * attempted; the first failure is thrown after.
   */
  async cleanUp(): Promise<void> {
    await this.brokerProxy?.stop();
    await this.databaseProxy?.stop();
    const failures: unknown[] = [];
    await this.vhost.delete().catch((error: unknown) => failures.push(error));
    await this.database.drop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) {
      throw failures[0];
    }
  }
}
