import { connect } from 'amqplib';
import {
  MAX_QUEUE_PRIORITY,
  TaskCommand,
  TaskName,
  TaskStatus,
  TaskType,
  encodeMessage,
  encodeTaskCursor,
  newTaskId,
} from '@tasklane/contracts';
import { BenchSystem } from './bench-system';
import { LoadResult, postLoad, timeGets } from './http-load';
import { CpuMeter, memoryMiB, pidsNamed } from './proc-stats';
import { Percentiles, RankSummary, percentiles, rankSummary } from './stats';

/** The no-op task of every workload: `diagnostic.sleep` for 0 ms, run by the email worker. */
export function noOpTask(priority?: number): Record<string, unknown> {
  return {
    task_name: TaskName.DiagnosticSleep,
    task_type: TaskType.Email,
    params: { ms: 0 },
    ...(priority === undefined ? {} : { priority }),
  };
}

/** The database and the broker, whose CPU is reported beside the apps'. */
export const INFRASTRUCTURE = ['mariadbd', 'beam.smp'];
const COMPLETION_TIMEOUT_MS = 600_000;
const FOLD_TIMEOUT_MS = 300_000;

export interface EndToEnd {
  /** Tasks completed (they must all be). */
  completed: number;
  /** From the first request to the last `completed_at`. */
  seconds: number;
  tasksPerSecond: number;
  createdToStartedMs: Percentiles;
  createdToCompletedMs: Percentiles;
}

export interface Cost {
  /** CPU ms per task of each app (replicas summed), and of the database and the broker. */
  cpuMsPerTask: Record<string, number>;
  /** Gateway + workers + tracker. */
  appsCpuMsPerTask: number;
  /** Peak resident memory of each app process so far, MiB. */
  peakRssMiB: Record<string, number>;
}

export interface ThroughputResult {
  tasks: number;
  connections: number;
  workerReplicas: number;
  enqueue: LoadResult;
  endToEnd: EndToEnd;
  cost: Cost;
}

export function meter(system: BenchSystem): CpuMeter {
  return new CpuMeter(new Map([...system.pidsByApp(), ...pidsNamed(INFRASTRUCTURE)]));
}

function costOf(system: BenchSystem, cpu: CpuMeter, tasks: number): Cost {
  const used = cpu.elapsed();
  const cpuMsPerTask = Object.fromEntries(Object.entries(used).map(([name, ms]) => [name, ms / tasks]));
  const apps = Object.entries(used)
    .filter(([name]) => !INFRASTRUCTURE.includes(name))
    .reduce((total, [, ms]) => total + ms, 0);
  const peakRssMiB: Record<string, number> = {};
  for (const [key, app] of system.apps) {
    if (app.pid !== undefined) {
      peakRssMiB[key] = memoryMiB(app.pid).peak;
    }
  }
  return { cpuMsPerTask, appsCpuMsPerTask: apps / tasks, peakRssMiB };
}

async function endToEnd(system: BenchSystem, tasks: number, startedAt: number): Promise<EndToEnd> {
  const completed = await system.waitForCompleted(tasks, COMPLETION_TIMEOUT_MS);
  if (completed < tasks) {
    throw new Error(`only ${completed} of ${tasks} tasks completed within ${COMPLETION_TIMEOUT_MS / 1_000} s`);
  }
  const rows = await system.query<{ started: number; completed: number; last: Date }>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, created_at, started_at) / 1000 AS started,
            TIMESTAMPDIFF(MICROSECOND, created_at, completed_at) / 1000 AS completed
       FROM background_tasks WHERE status = ?`,
    [TaskStatus.Completed],
  );
  const [{ last }] = await system.query<{ last: Date }>('SELECT MAX(completed_at) AS last FROM background_tasks');
  const seconds = (last.getTime() - startedAt) / 1_000;
  return {
    completed,
    seconds,
    tasksPerSecond: tasks / seconds,
    createdToStartedMs: percentiles(rows.map((row) => Number(row.started))),
    createdToCompletedMs: percentiles(rows.map((row) => Number(row.completed))),
  };
}

export function requireAllCreated(load: LoadResult, expected: number): void {
  const created = load.statuses['201'] ?? 0;
  if (created !== expected || load.errors > 0) {
    throw new Error(`expected ${expected} × 201, got ${JSON.stringify(load.statuses)} and ${load.errors} errors`);
  }
}

/** Workload 1 (and 5): `tasks` single enqueues at `connections` concurrent connections, run to completion. */
export async function throughput(system: BenchSystem, tasks: number, connections: number): Promise<ThroughputResult> {
  await system.clearTasks();
  const cpu = meter(system);
  const enqueue = await postLoad({
    url: `${system.baseUrl}/api/tasks/enqueue`,
    connections,
    amount: tasks,
    body: JSON.stringify(noOpTask()),
  });
  requireAllCreated(enqueue, tasks);
  const e2e = await endToEnd(system, tasks, enqueue.startedAt);
  return {
    tasks,
    connections,
    workerReplicas: system.workers().length,
    enqueue,
    endToEnd: e2e,
    cost: costOf(system, cpu, tasks),
  };
}

export interface BatchResult {
  tasks: number;
  batchSize: number;
  connections: number;
  enqueue: LoadResult;
  /** Tasks accepted per second (requests/s × batch size). */
  enqueuedTasksPerSecond: number;
  endToEnd: EndToEnd;
  cost: Cost;
  /**
   * A reference for the enqueued rate: RabbitMQ alone taking the same number of persistent,
   * confirmed commands into a priority queue, as many in flight as the batch load keeps.
   */
  brokerAlonePublishesPerSecond: number;
  /** Tasks accepted per second by the same load with the workers stopped (nothing drains meanwhile). */
  workersStoppedTasksPerSecond: number;
}

/** `requests` batches of `batchSize` no-op tasks over `connections`; fails unless every one was created. */
async function postBatches(
  system: BenchSystem,
  requests: number,
  batchSize: number,
  connections: number,
): Promise<LoadResult> {
  const enqueue = await postLoad({
    url: `${system.baseUrl}/api/tasks/enqueue/batch`,
    connections,
    amount: requests,
    body: JSON.stringify({ tasks: Array.from({ length: batchSize }, () => noOpTask()) }),
  });
  requireAllCreated(enqueue, requests);
  return enqueue;
}

/** Stops every worker replica; returns their keys for {@link startWorkers}. */
async function stopWorkers(system: BenchSystem): Promise<string[]> {
  const workers = system.workers();
  for (const key of workers) {
    await system.stopApp(key);
  }
  return workers;
}

async function startWorkers(system: BenchSystem, workers: readonly string[]): Promise<void> {
  for (const key of workers) {
    await system.startApp('worker-email', Number(key.split('#')[1]));
  }
}

/** Workload 2: the same tasks through `POST /api/tasks/enqueue/batch`. */
export async function batch(
  system: BenchSystem,
  tasks: number,
  batchSize: number,
  connections: number,
): Promise<BatchResult> {
  await system.clearTasks();
  const requests = Math.ceil(tasks / batchSize);
  const total = requests * batchSize;
  const cpu = meter(system);
  const enqueue = await postBatches(system, requests, batchSize, connections);
  const e2e = await endToEnd(system, total, enqueue.startedAt);
  const cost = costOf(system, cpu, total);
  // After the load (and its cost), so that the broker's clean-up of this queue cannot slow it.
  const brokerAlonePublishesPerSecond = await brokerAlone(system.amqpUrl, total, batchSize * connections);
  const workersStoppedTasksPerSecond = await batchWithWorkersStopped(system, requests, batchSize, connections);
  return {
    tasks: total,
    batchSize,
    connections,
    enqueue,
    enqueuedTasksPerSecond: (total * 1_000) / enqueue.durationMs,
    endToEnd: e2e,
    cost,
    brokerAlonePublishesPerSecond,
    workersStoppedTasksPerSecond,
  };
}

/**
 * The same batch load with the workers stopped (a bulk load into a backlog): what the gateway,
 * RabbitMQ and MariaDB take when nothing drains the queue meanwhile. The workers then start again
 * and drain it, so that the next workload starts from empty queues.
 */
async function batchWithWorkersStopped(
  system: BenchSystem,
  requests: number,
  batchSize: number,
  connections: number,
): Promise<number> {
  const workers = await stopWorkers(system);
  await system.clearTasks();
  const enqueue = await postBatches(system, requests, batchSize, connections);
  await startWorkers(system, workers);
  const total = requests * batchSize;
  const completed = await system.waitForCompleted(total, COMPLETION_TIMEOUT_MS);
  if (completed < total) {
    throw new Error(`only ${completed} of ${total} tasks completed after the workers restarted`);
  }
  return (total * 1_000) / enqueue.durationMs;
}

/** `count` persistent commands published with confirms into a throw-away priority queue, `inFlight` at a time; per second. */
async function brokerAlone(amqpUrl: string, count: number, inFlight: number): Promise<number> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    const queue = 'bench.broker-alone';
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-max-priority': MAX_QUEUE_PRIORITY } });
    const command: TaskCommand = {
      task_id: newTaskId(),
      task_name: TaskName.DiagnosticSleep,
      task_type: TaskType.Email,
      params: { ms: 0 },
      priority: 5,
      max_retries: 3,
      retry_count: 0,
      timeout_ms: 60_000,
    };
    const content = encodeMessage(command);
    const publish = (): Promise<void> =>
      new Promise((resolve, reject) => {
        channel.publish('', queue, content, { persistent: true, priority: command.priority }, (error: unknown) =>
          error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
        );
      });
    const started = process.hrtime.bigint();
    for (let sent = 0; sent < count; sent += inFlight) {
      await Promise.all(Array.from({ length: Math.min(inFlight, count - sent) }, publish));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await channel.deleteQueue(queue);
    return count / seconds;
  } finally {
    await connection.close();
  }
}

export interface PriorityResult extends RankSummary {
  low: number;
  high: number;
}

/** POSTs `body` as JSON to the gateway and returns the answer's body; anything but a 201 throws. */
export async function postCreated(system: BenchSystem, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${system.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) {
    throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  }
  return response.json();
}

/**
 * Workload 3: with the workers stopped, `low` priority-1 tasks then `high` priority-10 tasks;
 * the workers start; where did the high-priority tasks finish?
 */
export async function priority(system: BenchSystem, low: number, high: number): Promise<PriorityResult> {
  const workers = await stopWorkers(system);
  await system.clearTasks();
  const post = (path: string, body: unknown) => postCreated(system, path, body);
  for (let sent = 0; sent < low; sent += 1_000) {
    const size = Math.min(1_000, low - sent);
    await post('/api/tasks/enqueue/batch', { tasks: Array.from({ length: size }, () => noOpTask(1)) });
  }
  for (let sent = 0; sent < high; sent += 1) {
    await post('/api/tasks/enqueue', noOpTask(10));
  }
  await startWorkers(system, workers);
  const completed = await system.waitForCompleted(low + high, COMPLETION_TIMEOUT_MS);
  if (completed < low + high) {
    throw new Error(`only ${completed} of ${low + high} tasks completed`);
  }
  const order = await system.query<{ priority: number }>(
    'SELECT priority FROM background_tasks ORDER BY completed_at, started_at, id',
  );
  return {
    low,
    high,
    ...rankSummary(
      order.map((row) => row.priority === 10),
      100,
    ),
  };
}

export interface RowsResult {
  rows: number;
  insertSeconds: number;
  /** How long the tracker took to fold the insert's count changes after it. */
  foldSeconds: number;
  samples: number;
  listByStatusMs: Percentiles;
  listByStatusAndTypeMs: Percentiles;
  deepOffsetMs: Percentiles;
  deepOffset: number;
  /** Following `next_cursor` page after page from the top (null when the API has no cursor). */
  cursorPagesMs: Percentiles | null;
  /** The same from the middle of the table (a cursor half way down), by status then by task type. */
  deepCursorPagesMs: Percentiles | null;
  deepCursorPagesByTypeMs: Percentiles | null;
  countByStatusMs: Percentiles;
  countAllMs: Percentiles;
}

/**
 * Workload 5 (second half): `rows` tasks in the table (mostly completed, like a table after a
 * while in production), then sequential timings of the list and count endpoints.
 */
export async function manyRows(system: BenchSystem, rows: number, samples: number): Promise<RowsResult> {
  await system.clearTasks();
  const started = Date.now();
  // Statuses: 90% completed, 4% failed, 3% cancelled, 2% pending, 1% running; four task types.
  // The pending ones wait for a retry due tomorrow (`due_at`): no message exists for them, and
  // the tracker must not take them for commands the broker lost (ADR 0010) and run them now.
  await system.query(
    `INSERT INTO background_tasks
       (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, timeout_ms,
        created_at, started_at, completed_at, attempt, dispatched_at, due_at)
     SELECT CONCAT(LPAD(HEX(seq), 8, '0'), '-0000-7000-8000-', LPAD(HEX(seq), 12, '0')),
            ?, ELT(1 + seq % 4, ?, ?, ?, ?), 1 + seq % 10,
            CASE WHEN seq % 100 < 90 THEN ? WHEN seq % 100 < 94 THEN ? WHEN seq % 100 < 97 THEN ?
                 WHEN seq % 100 < 99 THEN ? ELSE ? END,
            '{"ms":0}', 0, 3, 60000,
            DATE_SUB(UTC_TIMESTAMP(3), INTERVAL (${rows} - seq) SECOND),
            DATE_SUB(UTC_TIMESTAMP(3), INTERVAL (${rows} - seq) SECOND),
            DATE_SUB(UTC_TIMESTAMP(3), INTERVAL (${rows} - seq) SECOND), 1, UTC_TIMESTAMP(3),
            DATE_ADD(UTC_TIMESTAMP(3), INTERVAL 1 DAY)
       FROM seq_1_to_${rows}`,
    [
      TaskName.DiagnosticSleep,
      TaskType.Email,
      TaskType.Report,
      TaskType.Analytics,
      TaskType.Cleanup,
      TaskStatus.Completed,
      TaskStatus.Failed,
      TaskStatus.Cancelled,
      TaskStatus.Pending,
      TaskStatus.Running,
    ],
  );
  await system.query('ANALYZE TABLE background_tasks');
  const insertSeconds = (Date.now() - started) / 1_000;
  // The insert journaled one count change per row; the tracker folds them within seconds (in
  // production the journal holds about one fold interval of transitions).
  const foldStarted = Date.now();
  await system.waitForCountsFolded(FOLD_TIMEOUT_MS);
  const foldSeconds = (Date.now() - foldStarted) / 1_000;
  const deepOffset = Math.floor(rows / 2);
  const url = system.baseUrl;
  const listByStatusMs = await timeGets(url, () => `/api/tasks/?status=${TaskStatus.Failed}&limit=50`, samples);
  const listByStatusAndTypeMs = await timeGets(
    url,
    () => `/api/tasks/?status=${TaskStatus.Completed}&task_type=${TaskType.Report}&limit=50`,
    samples,
  );
  const deepOffsetMs = await timeGets(
    url,
    () => `/api/tasks/?status=${TaskStatus.Completed}&limit=50&offset=${deepOffset}`,
    Math.min(samples, 20),
  );
  const completed = `status=${TaskStatus.Completed}`;
  const cursorPagesMs = await followCursor(url, completed, samples);
  // A cursor halfway down the list: the position of the row halfway through the ids.
  const [middleRow] = await system.query<{ id: string; createdAtMs: string }>(
    `SELECT CAST(id AS CHAR) AS id, CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000 AS CHAR) AS createdAtMs
       FROM background_tasks WHERE id >= (SELECT (MIN(id) + MAX(id)) DIV 2 FROM background_tasks) ORDER BY id LIMIT 1`,
  );
  const middle = encodeTaskCursor({ createdAtMs: Number(middleRow.createdAtMs), id: middleRow.id });
  const deepCursorPagesMs = await followCursor(url, completed, samples, middle);
  const deepCursorPagesByTypeMs = await followCursor(url, `task_type=${TaskType.Report}`, samples, middle);
  const countByStatusMs = await timeGets(url, () => `/api/tasks/count/all?status=${TaskStatus.Failed}`, samples);
  const countAllMs = await timeGets(url, () => `/api/tasks/count/all?status=${TaskStatus.Completed}`, samples);
  return {
    rows,
    insertSeconds,
    foldSeconds,
    samples,
    listByStatusMs,
    listByStatusAndTypeMs,
    deepOffsetMs,
    deepOffset,
    cursorPagesMs,
    deepCursorPagesMs,
    deepCursorPagesByTypeMs,
    countByStatusMs,
    countAllMs,
  };
}

/**
 * Walks `pages` pages of the tasks matching `filter` (a query string) by `next_cursor`, from the
 * top or from `start`, timing each; null without cursor support.
 */
async function followCursor(
  baseUrl: string,
  filter: string,
  pages: number,
  start?: string,
): Promise<Percentiles | null> {
  const samples: number[] = [];
  let cursor: string | null = start === undefined ? null : encodeURIComponent(start);
  for (let page = 0; page < pages; page += 1) {
    const path = `/api/tasks/?${filter}&limit=50${cursor ? `&cursor=${cursor}` : ''}`;
    const started = process.hrtime.bigint();
    const response = await fetch(`${baseUrl}${path}`);
    const body = (await response.json()) as { next_cursor?: string | null };
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (response.status !== 200) {
      throw new Error(`GET ${path} answered ${response.status}`);
    }
    if (body.next_cursor === undefined) {
      return null;
    }
    if (body.next_cursor === null) {
      break;
    }
    cursor = encodeURIComponent(body.next_cursor);
  }
  return percentiles(samples);
}

/**
 * Resident memory of each app, MiB, before any load: `start` two seconds after the system is up
 * (the start-up burst still in V8's young generation), `idle` after `idleMs` without load. V8's
 * memory reducer gives the start-up garbage back some 10–30 s after start when nothing happens;
 * `idle` is what a pod that has nothing to do sits at.
 */
export async function idleRss(
  system: BenchSystem,
  idleMs: number,
): Promise<{ start: Record<string, number>; idle: Record<string, number> }> {
  const read = (): Record<string, number> => {
    const rss: Record<string, number> = {};
    for (const [key, app] of system.apps) {
      if (app.pid !== undefined) {
        rss[key] = memoryMiB(app.pid).rss;
      }
    }
    return rss;
  };
  await new Promise((done) => setTimeout(done, 2_000));
  const start = read();
  await new Promise((done) => setTimeout(done, idleMs));
  return { start, idle: read() };
}
