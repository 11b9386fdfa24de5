import { connect } from 'amqplib';
import { TaskStatus, TaskType, taskQueueName } from '@tasklane/contracts';
import { BenchSystem } from './bench-system';
import { LoadResult, postBodies } from './http-load';
import { memoryMiB } from './proc-stats';
import { Percentiles, percentiles } from './stats';
import { meter, noOpTask, postCreated, requireAllCreated } from './workloads';

const FOLD_TIMEOUT_MS = 300_000;
/** How long the due tasks may take to start after the last one's `run_at` before the run fails. */
const START_TIMEOUT_MS = 60_000;
/** Timed scrapes of the tracker's `/metrics` in each state. */
const SCRAPES = 5;

/**
 * The due relay's candidate read, a copy of `TaskOutboxRepository.relayDue` (libs/persistence;
 * ADR 0012) — the bench may not import the data-access layer. Keep it in step with the original.
 */
const DUE_CANDIDATES = `SELECT id FROM background_tasks FORCE INDEX (idx_background_tasks_dispatched_due)
  WHERE dispatched_at IS NULL AND due_at <= UTC_TIMESTAMP(3) AND status = '${TaskStatus.Pending}'
  ORDER BY due_at, id LIMIT 200`;

export interface DelayedOptions {
  /** Tasks scheduled for later that wait in the table while the rest is measured. */
  waiting: number;
  batchSize: number;
  connections: number;
  /** The waiting tasks fall due over `waitingSpreadMs`, starting `waitingLeadMs` after the enqueue. */
  waitingLeadMs: number;
  waitingSpreadMs: number;
  /** Length of each idle window (without and with the waiting tasks). */
  idleMs: number;
  /** Tasks due within seconds whose start lag is measured. */
  due: number;
  dueSpreadMs: number;
  /** The tracker's DUE_RELAY_INTERVAL_MS (the bench leaves the default unless the environment sets it). */
  relayIntervalMs: number;
  /** Timed runs of the due relay's query in each state. */
  querySamples: number;
}

/** One state of the system (no task waiting, or `waiting` tasks waiting): what idling costs in it. */
export interface IdleState {
  waitingTasks: number;
  /** CPU ms each process used over the idle window (replicas summed), and MariaDB's and RabbitMQ's. */
  cpuMs: Record<string, number>;
  /** The tracker's CPU per due-relay interval of the window (all its periodic jobs, not only the relay). */
  trackerCpuMsPerRelayInterval: number;
  /** RSS of each app at the end of the window, MiB. */
  rssMiB: Record<string, number>;
  /** The due relay's transaction (BEGIN, candidate SELECT, COMMIT) from the bench, ms. */
  dueQueryMs: Percentiles;
  /** Index and row reads of one candidate SELECT (`Handler_read_*` of the session). */
  dueQueryRowsRead: number;
  /** One scrape of the tracker's `/metrics` (its backlog gauges read the table), ms. */
  trackerScrapeMs: Percentiles;
  /** Messages ready in the email queue at the end of the window. */
  queuedMessages: number;
}

export interface DelayedResult {
  waiting: {
    tasks: number;
    batchSize: number;
    connections: number;
    /** Due from `leadSeconds` to `leadSeconds + spreadSeconds` after the enqueue. */
    leadSeconds: number;
    spreadSeconds: number;
    enqueue: LoadResult;
    enqueuedTasksPerSecond: number;
    /** CPU ms of each process during the enqueue, per waiting task. */
    enqueueCpuMsPerTask: Record<string, number>;
    /** RSS of each app, MiB: before the enqueue and right after it. */
    rssBeforeMiB: Record<string, number>;
    rssAfterMiB: Record<string, number>;
    /** How long the tracker took to fold the enqueue's count changes (before the idle window). */
    foldSeconds: number;
    /** Waiting tasks whose command went out before their time (must be 0), at the end of the workload. */
    publishedEarly: number;
  };
  idleSeconds: number;
  relayIntervalMs: number;
  empty: IdleState;
  loaded: IdleState;
  due: {
    tasks: number;
    spreadSeconds: number;
    /** `started_at − run_at` of each due task, ms. */
    startLagMs: Percentiles;
    /** `dispatched_at − run_at` (the relay's publish confirmed and recorded), ms. */
    dispatchLagMs: Percentiles;
    /** Tasks that started before their `run_at` (must be 0). */
    startedEarly: number;
    /** Tasks whose `run_at` had passed when the gateway inserted them (published by the gateway at once). */
    dueOnArrival: number;
    /** From the enqueue until every due task had started. */
    secondsToAllStarted: number;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function rssOf(system: BenchSystem): Record<string, number> {
  const rss: Record<string, number> = {};
  for (const [key, app] of system.apps) {
    if (app.pid !== undefined) {
      rss[key] = memoryMiB(app.pid).rss;
    }
  }
  return rss;
}

/** Times the due relay's transaction on one connection; also counts the rows its SELECT reads. */
async function timeDueQuery(system: BenchSystem, samples: number): Promise<{ ms: Percentiles; rowsRead: number }> {
  const connection = await system.db.getConnection();
  try {
    const handlerReads = async (): Promise<number> => {
      const [rows] = await connection.query("SHOW SESSION STATUS LIKE 'Handler_read%'");
      return (rows as Array<{ Value: string }>).reduce((total, row) => total + Number(row.Value), 0);
    };
    const before = await handlerReads();
    await connection.query(DUE_CANDIDATES);
    const rowsRead = (await handlerReads()) - before;
    const times: number[] = [];
    for (let sample = 0; sample < samples; sample += 1) {
      const started = process.hrtime.bigint();
      await connection.query('START TRANSACTION');
      await connection.query(DUE_CANDIDATES);
      await connection.query('COMMIT');
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { ms: percentiles(times), rowsRead };
  } finally {
    connection.release();
  }
}

async function timeScrapes(url: string): Promise<Percentiles> {
  const times: number[] = [];
  for (let scrape = 0; scrape < SCRAPES; scrape += 1) {
    const started = process.hrtime.bigint();
    const response = await fetch(url);
    await response.arrayBuffer();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (response.status !== 200) {
      throw new Error(`GET ${url} answered ${response.status}`);
    }
    await sleep(200);
  }
  return percentiles(times);
}

async function queuedMessages(amqpUrl: string): Promise<number> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(taskQueueName(TaskType.Email));
    await channel.close();
    return messageCount;
  } finally {
    await connection.close();
  }
}

/**
 * An idle window: nothing sent for `idleMs`, the CPU of every process metered; then (outside the
 * window) the due relay's query timed, the tracker scraped and the email queue's depth read.
 */
async function idleState(system: BenchSystem, options: DelayedOptions, waitingTasks: number): Promise<IdleState> {
  const cpu = meter(system);
  await sleep(options.idleMs);
  const cpuMs = cpu.elapsed();
  const rssMiB = rssOf(system);
  const query = await timeDueQuery(system, options.querySamples);
  return {
    waitingTasks,
    cpuMs,
    trackerCpuMsPerRelayInterval: ((cpuMs['status-tracker'] ?? NaN) * options.relayIntervalMs) / options.idleMs,
    rssMiB,
    dueQueryMs: query.ms,
    dueQueryRowsRead: query.rowsRead,
    trackerScrapeMs: await timeScrapes(system.metricsUrl('status-tracker')),
    queuedMessages: await queuedMessages(system.amqpUrl),
  };
}

/**
 * Workload 6, delayed tasks (ADR 0012). First `waiting` no-op tasks scheduled over an hour (batch
 * enqueue), due only after the workload: the enqueue's rate and cost, and what the system spends
 * idling with them in the table against idling without — waiting tasks should cost no message,
 * timer or memory. Then, with them still waiting and the worker idle, `due` tasks scheduled over
 * the next `dueSpreadMs`: how late each starts after its `run_at` (none may start before it).
 */
export async function delayed(system: BenchSystem, options: DelayedOptions): Promise<DelayedResult> {
  await system.clearTasks();
  await system.waitForCountsFolded(FOLD_TIMEOUT_MS);
  const empty = await idleState(system, options, 0);

  // The waiting tasks, due evenly over the spread, in batches; built before the clock starts.
  const dueFrom = Date.now() + options.waitingLeadMs;
  const bodies: string[] = [];
  for (let first = 0; first < options.waiting; first += options.batchSize) {
    const size = Math.min(options.batchSize, options.waiting - first);
    const tasks = Array.from({ length: size }, (_, offset) => ({
      ...noOpTask(),
      run_at: new Date(dueFrom + ((first + offset + 0.5) * options.waitingSpreadMs) / options.waiting).toISOString(),
    }));
    bodies.push(JSON.stringify({ tasks }));
  }
  const rssBeforeMiB = rssOf(system);
  const cpu = meter(system);
  const enqueue = await postBodies({
    url: `${system.baseUrl}/api/tasks/enqueue/batch`,
    connections: options.connections,
    bodies,
  });
  const enqueueCpu = cpu.elapsed();
  const rssAfterMiB = rssOf(system);
  requireAllCreated(enqueue, bodies.length);
  const [stored] = await system.query<{ n: number; scheduled: number }>(
    `SELECT COUNT(*) AS n, SUM(due_at IS NOT NULL AND dispatched_at IS NULL AND status = ?) AS scheduled
       FROM background_tasks`,
    [TaskStatus.Pending],
  );
  if (Number(stored.n) !== options.waiting || Number(stored.scheduled) !== options.waiting) {
    throw new Error(
      `expected ${options.waiting} pending, undispatched tasks with a due_at; the table holds ${stored.n}, ` +
        `${stored.scheduled} of them so`,
    );
  }
  const foldStarted = Date.now();
  await system.waitForCountsFolded(FOLD_TIMEOUT_MS);
  const foldSeconds = (Date.now() - foldStarted) / 1_000;
  await sleep(1_000);
  const loaded = await idleState(system, options, options.waiting);

  const due = await dueTasks(system, options);
  const [early] = await system.query<{ n: number }>(
    'SELECT COUNT(*) AS n FROM background_tasks WHERE due_at >= ? AND dispatched_at IS NOT NULL',
    [new Date(dueFrom)],
  );
  return {
    waiting: {
      tasks: options.waiting,
      batchSize: options.batchSize,
      connections: options.connections,
      leadSeconds: options.waitingLeadMs / 1_000,
      spreadSeconds: options.waitingSpreadMs / 1_000,
      enqueue,
      enqueuedTasksPerSecond: (options.waiting * 1_000) / enqueue.durationMs,
      enqueueCpuMsPerTask: Object.fromEntries(
        Object.entries(enqueueCpu).map(([name, ms]) => [name, ms / options.waiting]),
      ),
      rssBeforeMiB,
      rssAfterMiB,
      foldSeconds,
      publishedEarly: Number(early.n),
    },
    idleSeconds: options.idleMs / 1_000,
    relayIntervalMs: options.relayIntervalMs,
    empty,
    loaded,
    due,
  };
}

/** The second half: `due` tasks with `run_at` evenly over the next `dueSpreadMs`, run to their start. */
async function dueTasks(system: BenchSystem, options: DelayedOptions): Promise<DelayedResult['due']> {
  const enqueuedAt = Date.now();
  // A second's margin: every run_at is still ahead when the gateway inserts it.
  const from = enqueuedAt + 1_000;
  const runAts = Array.from(
    { length: options.due },
    (_, index) => new Date(from + ((index + 0.5) * options.dueSpreadMs) / options.due),
  );
  const ids: string[] = [];
  for (let first = 0; first < options.due; first += options.batchSize) {
    const tasks = runAts
      .slice(first, first + options.batchSize)
      .map((runAt) => ({ ...noOpTask(), run_at: runAt.toISOString() }));
    const body = (await postCreated(system, '/api/tasks/enqueue/batch', { tasks })) as {
      tasks: Array<{ task_id: string; run_at: string | null; status: string }>;
    };
    body.tasks.forEach((task, index) => {
      if (task.run_at !== tasks[index].run_at) {
        throw new Error(`task ${task.task_id} came back with run_at ${task.run_at}, not ${tasks[index].run_at}`);
      }
      ids.push(task.task_id);
    });
  }
  const list = ids.map(() => '?').join(', ');
  const deadline = runAts[runAts.length - 1].getTime() + START_TIMEOUT_MS;
  let started = 0;
  while (Date.now() < deadline) {
    const [row] = await system.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM background_tasks WHERE task_id IN (${list}) AND started_at IS NOT NULL`,
      ids,
    );
    started = Number(row.n);
    if (started === ids.length) {
      break;
    }
    await sleep(100);
  }
  if (started < ids.length) {
    throw new Error(
      `only ${started} of ${ids.length} due tasks started within ${START_TIMEOUT_MS / 1_000} s of the last run_at`,
    );
  }
  const secondsToAllStarted = (Date.now() - enqueuedAt) / 1_000;
  const rows = await system.query<{ startLag: string; dispatchLag: string | null; onArrival: number }>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, run_at, started_at) / 1000 AS startLag,
            TIMESTAMPDIFF(MICROSECOND, run_at, dispatched_at) / 1000 AS dispatchLag,
            run_at <= created_at AS onArrival
       FROM background_tasks WHERE task_id IN (${list})`,
    ids,
  );
  const startLags = rows.map((row) => Number(row.startLag));
  // Let them finish, so that the next workload starts from an idle system.
  await system.waitForCompleted(ids.length, START_TIMEOUT_MS);
  return {
    tasks: options.due,
    spreadSeconds: options.dueSpreadMs / 1_000,
    startLagMs: percentiles(startLags),
    dispatchLagMs: percentiles(rows.filter((row) => row.dispatchLag !== null).map((row) => Number(row.dispatchLag))),
    startedEarly: startLags.filter((lag) => lag < 0).length,
    dueOnArrival: rows.filter((row) => Number(row.onArrival) === 1).length,
    secondsToAllStarted,
  };
}
