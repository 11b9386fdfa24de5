import { loadavg } from 'node:os';
import { TaskStatus, isTerminalStatus } from '@tasklane/contracts';
import { parsePrometheusText } from '@tasklane/testing';
import { BenchSystem } from './bench-system';
import { establishedOnPort, memoryMiB } from './proc-stats';
import { StatementCountingProxy, StatementCounts, countsBetween, totalOf } from './statement-proxy';
import { Percentiles, percentiles } from './stats';
import { meter, noOpTask, postCreated } from './workloads';

const FOLD_TIMEOUT_MS = 300_000;
/** How long the W requests may take to be all waiting (each has read its task once). */
const OPEN_TIMEOUT_MS = 60_000;
/** Task ids per statement of the gateway's poll (`FINISHED_CHUNK` of TaskQueryRepository). */
const POLL_CHUNK = 1_000;

/**
 * The waiters' poll for one chunk, a copy of `TaskQueryRepository.finishedAmong` (libs/persistence)
 * — the bench may not import the data-access layer. Keep it in step with the original.
 */
const pollQuery = (ids: readonly string[]): string =>
  `SELECT task_id, status FROM background_tasks WHERE task_id IN (${ids.map(() => '?').join(', ')})`;

/** The gateway's poll ({@link pollQuery}), as {@link statementShape} gives it. */
export function isPollStatement(shape: string): boolean {
  return /^SELECT … FROM `?background_tasks`? WHERE `?task_id`? IN \(…\)/i.test(shape);
}

/** The gateway's read of one task by task_id (TypeORM's `findOneBy`), as {@link statementShape} gives it. */
export function isTaskRead(shape: string): boolean {
  return /^SELECT … FROM `background_tasks` `\w+` WHERE \(*`\w+`\.`task_id` = \?/i.test(shape);
}

export interface WaitersOptions {
  /** Tasks waited for, one client each. */
  waiters: number;
  /** Length of each idle window (no client waiting, then all of them). */
  idleMs: number;
  /** The clients' `?wait=` (seconds): longer than the workload keeps them waiting. */
  waitSeconds: number;
  /** The gateway's TASK_WAIT_POLL_INTERVAL_MS (the bench leaves the default unless the environment sets it). */
  pollIntervalMs: number;
  /** The tasks' `run_at`, this far ahead of the enqueue: none comes due during the workload. */
  runAtLeadMs: number;
  batchSize: number;
  /** Cancels in flight at once when the tasks are made to finish. */
  cancelConnections: number;
  /** Timed runs of the poll's query from the bench. */
  querySamples: number;
}

/** One idle window: nothing sent for `idleMs` while `waitingClients` clients wait. */
export interface WaitWindow {
  waitingClients: number;
  seconds: number;
  /** CPU ms of each process over the window (replicas summed), and MariaDB's and RabbitMQ's. */
  cpuMs: Record<string, number>;
  gatewayCpuMsPerSecond: number;
  /** MariaDB's CPU over the window: the machine's shared server, every client of it. */
  mariadbCpuMsPerSecond: number;
  /** The gateway's RSS at the start and at the end of the window, MiB. */
  gatewayRssStartMiB: number;
  gatewayRssEndMiB: number;
  /** V8 heap in use in the gateway after the window (`nodejs_heap_size_used_bytes` of its /metrics), MiB. */
  gatewayHeapUsedMiB: number;
  /** Every statement the gateway sent to MariaDB during the window, by shape (counted by the proxy). */
  statements: StatementCounts;
  statementsPerSecond: number;
  /** Of them: the waiters' polls, and reads of one task by task_id. */
  pollStatements: number;
  taskReads: number;
  /** Gateway statements per poll interval of the window. */
  statementsPerPollInterval: number;
  /** `Com_select` of the whole MariaDB server per second: every client of the machine's database, not only this run. */
  serverComSelectPerSecond: number;
  /** TCP connections the gateway held open at the end of the window. */
  gatewayConnections: number;
  /** The machine's 1-minute load average at the end of the window (others' tests share it). */
  loadAverage: number;
}

export interface WaitersResult {
  waiters: number;
  clientsPerTask: number;
  waitSeconds: number;
  idleSeconds: number;
  pollIntervalMs: number;
  runAtLeadSeconds: number;
  /** From the first `?wait` request until all were waiting (each had read its task once). */
  openSeconds: number;
  empty: WaitWindow;
  loaded: WaitWindow;
  /** Gateway RSS and V8 heap with every client waiting (end of window) minus without (end of window). */
  rssDeltaMiB: number;
  rssDeltaKiBPerClient: number;
  heapDeltaMiB: number;
  heapDeltaKiBPerClient: number;
  /** Statements per second if each client polled its task every poll interval instead. */
  perClientPollingStatementsPerSecond: number;
  /** The poll's query for all the waited tasks (statements of {@link POLL_CHUNK} ids), run from the bench, ms. */
  pollQueryMs: Percentiles;
  /** Handler reads (index and row, `Handler_read_*` of the session) of one such poll. */
  pollQueryHandlerReads: number;
  /** Clients answered before their task was cancelled (must be 0). */
  answeredEarly: number;
  finish: {
    cancelConnections: number;
    /** From the first cancel sent to the last cancel answered. */
    cancelSeconds: number;
    /** Cancels answered 200 (must be all). */
    cancelled: number;
    /** Clients answered 200 with a final status (must be all). */
    answered: number;
    /** The clients' answers by HTTP status (`error` when the request failed). */
    httpStatuses: Record<string, number>;
    /** The `status` of the task in each 200 answer. */
    taskStatuses: Record<string, number>;
    /** Answer arrived − the task's `completed_at` (set by the gateway cancelling it, before its commit), ms. */
    lagFromCompletedMs: Percentiles;
    /** Answer arrived − the task's cancel answer arrived (both at the bench; negative: the wait answered first), ms. */
    lagFromCancelAnswerMs: Percentiles;
    /** From the first cancel sent until every client was answered. */
    secondsToAllAnswered: number;
    /** The gateway's statements from the first cancel until every client was answered, by shape. */
    statements: StatementCounts;
    pollStatements: number;
    taskReads: number;
  };
}

interface Answer {
  taskId: string;
  /** Wall clock (ms, fractional) when the response's head arrived. */
  answeredAt: number;
  httpStatus: string;
  status: string | null;
  completedAt: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const now = (): number => performance.timeOrigin + performance.now();

function pollsAndReads(statements: StatementCounts): { pollStatements: number; taskReads: number } {
  let pollStatements = 0;
  let taskReads = 0;
  for (const [shape, count] of Object.entries(statements)) {
    if (isPollStatement(shape)) {
      pollStatements += count;
    } else if (isTaskRead(shape)) {
      taskReads += count;
    }
  }
  return { pollStatements, taskReads };
}

async function serverComSelect(system: BenchSystem): Promise<number> {
  const rows = await system.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Com_select'");
  return Number(rows[0]?.Value ?? NaN);
}

async function gatewayHeapUsedMiB(system: BenchSystem): Promise<number> {
  const response = await fetch(system.metricsUrl('api-gateway'));
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`the gateway's /metrics answered ${response.status}`);
  }
  const sample = parsePrometheusText(text).samples.find((entry) => entry.name === 'nodejs_heap_size_used_bytes');
  return sample === undefined ? Number.NaN : sample.value / 2 ** 20;
}

function gatewayPid(system: BenchSystem): number {
  const pid = system.apps.get('api-gateway')?.pid;
  if (pid === undefined) {
    throw new Error('the gateway is not running');
  }
  return pid;
}

/** An idle window: nothing sent for `idleMs`; CPU metered, the gateway's statements counted. */
async function waitWindow(
  system: BenchSystem,
  proxy: StatementCountingProxy,
  options: WaitersOptions,
  waitingClients: number,
): Promise<WaitWindow> {
  const pid = gatewayPid(system);
  const gatewayPort = Number(new URL(system.baseUrl).port);
  const comSelectBefore = await serverComSelect(system);
  const gatewayRssStartMiB = memoryMiB(pid).rss;
  const before = proxy.snapshot();
  const cpu = meter(system);
  const started = now();
  await sleep(options.idleMs);
  const cpuMs = cpu.elapsed();
  const statements = countsBetween(before, proxy.snapshot());
  const seconds = (now() - started) / 1_000;
  const gatewayRssEndMiB = memoryMiB(pid).rss;
  const gatewayConnections = establishedOnPort(gatewayPort);
  const comSelectAfter = await serverComSelect(system);
  const total = totalOf(statements);
  return {
    waitingClients,
    seconds,
    cpuMs,
    gatewayCpuMsPerSecond: (cpuMs['api-gateway'] ?? NaN) / seconds,
    mariadbCpuMsPerSecond: (cpuMs['mariadbd'] ?? NaN) / seconds,
    gatewayRssStartMiB,
    gatewayRssEndMiB,
    gatewayHeapUsedMiB: await gatewayHeapUsedMiB(system),
    statements,
    statementsPerSecond: total / seconds,
    ...pollsAndReads(statements),
    statementsPerPollInterval: (total * options.pollIntervalMs) / (seconds * 1_000),
    serverComSelectPerSecond: (comSelectAfter - comSelectBefore) / seconds,
    gatewayConnections,
    loadAverage: loadavg()[0],
  };
}

/** Times the poll's statements for `ids` on one connection; also counts the rows one poll reads. */
async function timePollQuery(
  system: BenchSystem,
  ids: readonly string[],
  samples: number,
): Promise<{ ms: Percentiles; handlerReads: number }> {
  const chunks: string[][] = [];
  for (let first = 0; first < ids.length; first += POLL_CHUNK) {
    chunks.push(ids.slice(first, first + POLL_CHUNK));
  }
  const connection = await system.db.getConnection();
  try {
    const poll = async (): Promise<void> => {
      for (const chunk of chunks) {
        await connection.query(pollQuery(chunk), chunk);
      }
    };
    const handlerReads = async (): Promise<number> => {
      const [rows] = await connection.query("SHOW SESSION STATUS LIKE 'Handler_read%'");
      return (rows as Array<{ Value: string }>).reduce((total, row) => total + Number(row.Value), 0);
    };
    const before = await handlerReads();
    await poll();
    const reads = (await handlerReads()) - before;
    const times: number[] = [];
    for (let sample = 0; sample < samples; sample += 1) {
      const started = process.hrtime.bigint();
      await poll();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { ms: percentiles(times), handlerReads: reads };
  } finally {
    connection.release();
  }
}

/** `GET /api/tasks/{id}?wait=` for one task; resolves when it is answered (never rejects). */
async function waitFor(baseUrl: string, taskId: string, waitSeconds: number): Promise<Answer> {
  try {
    const response = await fetch(`${baseUrl}/api/tasks/${taskId}?wait=${waitSeconds}`, {
      signal: AbortSignal.timeout((waitSeconds + 30) * 1_000),
    });
    const answeredAt = now();
    const body = (await response.json()) as { status?: string; completed_at?: string | null };
    return {
      taskId,
      answeredAt,
      httpStatus: String(response.status),
      status: body.status ?? null,
      completedAt: body.completed_at ? Date.parse(body.completed_at) : null,
    };
  } catch {
    return { taskId, answeredAt: now(), httpStatus: 'error', status: null, completedAt: null };
  }
}

/** Cancels every task, `connections` at a time; the time each cancel's answer arrived (by task id) and its status. */
async function cancelAll(
  system: BenchSystem,
  taskIds: readonly string[],
  connections: number,
): Promise<Map<string, { at: number; status: number }>> {
  const answers = new Map<string, { at: number; status: number }>();
  let next = 0;
  const connection = async (): Promise<void> => {
    while (next < taskIds.length) {
      const taskId = taskIds[next];
      next += 1;
      let status = 0;
      try {
        const response = await fetch(`${system.baseUrl}/api/tasks/${taskId}/cancel`, {
          method: 'POST',
          signal: AbortSignal.timeout(30_000),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = 0;
      }
      answers.set(taskId, { at: now(), status });
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, taskIds.length) }, connection));
  return answers;
}

/**
 * Workload 7, waiting clients (`GET /api/tasks/{id}?wait=`, issue #13). The gateway is restarted
 * with its MariaDB connections through a proxy of the bench that counts its statements (and
 * restarted as before at the end). `waiters` tasks scheduled `runAtLeadMs` ahead — pending, due
 * after the workload — are enqueued; an idle window with no client waiting; then one client per
 * task waits (`?wait=waitSeconds`) and the same idle window again: the gateway's CPU, memory and
 * statements with every client waiting against none — one poll per interval for all of them is
 * the design, not one read per client. Then every task is cancelled (`cancelConnections` at a
 * time): how late each client hears of it after its task became final; each must get 200 with
 * the final status.
 */
export async function waiters(system: BenchSystem, options: WaitersOptions): Promise<WaitersResult> {
  await system.clearTasks();
  const target = new URL(system.databaseUrl);
  const proxy = await StatementCountingProxy.start(target.hostname, Number(target.port || 3306));
  try {
    await system.restartApp('api-gateway', { DATABASE_URL: proxy.urlFor(system.databaseUrl) });
    return await measure(system, proxy, options);
  } finally {
    // Back to its direct connections, then the proxy goes.
    await system.restartApp('api-gateway', {});
    await proxy.stop();
  }
}

async function measure(
  system: BenchSystem,
  proxy: StatementCountingProxy,
  options: WaitersOptions,
): Promise<WaitersResult> {
  const runAt = new Date(Date.now() + options.runAtLeadMs).toISOString();
  const taskIds: string[] = [];
  for (let first = 0; first < options.waiters; first += options.batchSize) {
    const size = Math.min(options.batchSize, options.waiters - first);
    const tasks = Array.from({ length: size }, () => ({ ...noOpTask(), run_at: runAt }));
    const body = (await postCreated(system, '/api/tasks/enqueue/batch', { tasks })) as {
      tasks: Array<{ task_id: string; status: string }>;
    };
    for (const task of body.tasks) {
      if (task.status !== TaskStatus.Pending) {
        throw new Error(`task ${task.task_id} came back ${task.status}, not pending`);
      }
      taskIds.push(task.task_id);
    }
  }
  await system.waitForCountsFolded(FOLD_TIMEOUT_MS);
  const pollQueryTimes = await timePollQuery(system, taskIds, options.querySamples);
  // The enqueue's garbage collected and nothing else going on before the first window.
  await sleep(Math.min(5_000, options.idleMs / 2));
  const empty = await waitWindow(system, proxy, options, 0);

  // One client per task, all at once (fetch's global agent opens as many connections as asked).
  const openedFrom = proxy.snapshot();
  const openedAt = now();
  const answers = taskIds.map((taskId) => waitFor(system.baseUrl, taskId, options.waitSeconds));
  const answered: Answer[] = [];
  answers.forEach((answer) => void answer.then((value) => answered.push(value)));
  const gatewayPort = Number(new URL(system.baseUrl).port);
  const deadline = Date.now() + OPEN_TIMEOUT_MS;
  for (;;) {
    const reads = pollsAndReads(countsBetween(openedFrom, proxy.snapshot())).taskReads;
    if (reads >= taskIds.length && establishedOnPort(gatewayPort) >= taskIds.length) {
      break;
    }
    if (answered.length > 0 || Date.now() > deadline) {
      const statuses = answered.map((answer) => `${answer.httpStatus} ${answer.status ?? ''}`.trim());
      throw new Error(
        `${taskIds.length} clients asked to wait: ${reads} task reads and ${establishedOnPort(gatewayPort)} ` +
          `gateway connections after ${Math.round((now() - openedAt) / 1_000)} s; ${answered.length} answered ` +
          `already (${[...new Set(statuses)].join(', ') || 'none'})`,
      );
    }
    await sleep(50);
  }
  const openSeconds = (now() - openedAt) / 1_000;
  await sleep(1_000);
  const loaded = await waitWindow(system, proxy, options, taskIds.length);

  // Every task cancelled; each client must hear of it.
  const finishFrom = proxy.snapshot();
  const cancelStartedAt = now();
  const answeredEarly = answered.length;
  const cancels = await cancelAll(system, taskIds, options.cancelConnections);
  const cancelSeconds = (now() - cancelStartedAt) / 1_000;
  const all = await Promise.all(answers);
  const finishStatements = countsBetween(finishFrom, proxy.snapshot());
  const secondsToAllAnswered = (Math.max(...all.map((answer) => answer.answeredAt)) - cancelStartedAt) / 1_000;

  const httpStatuses: Record<string, number> = {};
  const taskStatuses: Record<string, number> = {};
  const lagFromCompleted: number[] = [];
  const lagFromCancelAnswer: number[] = [];
  let finalAnswers = 0;
  for (const answer of all) {
    httpStatuses[answer.httpStatus] = (httpStatuses[answer.httpStatus] ?? 0) + 1;
    if (answer.httpStatus !== '200') {
      continue;
    }
    const status = answer.status ?? 'none';
    taskStatuses[status] = (taskStatuses[status] ?? 0) + 1;
    if (!isTerminalStatus(status as TaskStatus)) {
      continue;
    }
    finalAnswers += 1;
    if (answer.completedAt !== null) {
      lagFromCompleted.push(answer.answeredAt - answer.completedAt);
    }
    const cancel = cancels.get(answer.taskId);
    if (cancel !== undefined) {
      lagFromCancelAnswer.push(answer.answeredAt - cancel.at);
    }
  }
  const rssDeltaMiB = loaded.gatewayRssEndMiB - empty.gatewayRssEndMiB;
  const heapDeltaMiB = loaded.gatewayHeapUsedMiB - empty.gatewayHeapUsedMiB;
  return {
    waiters: taskIds.length,
    clientsPerTask: 1,
    waitSeconds: options.waitSeconds,
    idleSeconds: options.idleMs / 1_000,
    pollIntervalMs: options.pollIntervalMs,
    runAtLeadSeconds: options.runAtLeadMs / 1_000,
    openSeconds,
    empty,
    loaded,
    rssDeltaMiB,
    rssDeltaKiBPerClient: (rssDeltaMiB * 1_024) / taskIds.length,
    heapDeltaMiB,
    heapDeltaKiBPerClient: (heapDeltaMiB * 1_024) / taskIds.length,
    perClientPollingStatementsPerSecond: (taskIds.length * 1_000) / options.pollIntervalMs,
    pollQueryMs: pollQueryTimes.ms,
    pollQueryHandlerReads: pollQueryTimes.handlerReads,
    answeredEarly,
    finish: {
      cancelConnections: options.cancelConnections,
      cancelSeconds,
      cancelled: [...cancels.values()].filter((cancel) => cancel.status === 200).length,
      answered: finalAnswers,
      httpStatuses,
      taskStatuses,
      lagFromCompletedMs: percentiles(lagFromCompleted),
      lagFromCancelAnswerMs: percentiles(lagFromCancelAnswer),
      secondsToAllAnswered,
      statements: finishStatements,
      ...pollsAndReads(finishStatements),
    },
  };
}
