import { TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { BenchSystem } from './bench-system';
import { Percentiles, percentiles } from './stats';
import { postCreated } from './workloads';

/** How long the backlog left by the flood may take to drain before the run fails. */
const DRAIN_TIMEOUT_MS = 600_000;
/** A busy machine's allowance on top of the bound (scheduling, HTTP, the tracker's latency). */
const SLACK_MS = 1_000;
/** The flood is sent in this many batches per second. */
const FLOOD_BATCHES_PER_SECOND = 10;

export interface FairnessOptions {
  /** How long the priority-10 flood and the priority-1 trickle run. */
  seconds: number;
  /** Each task's `diagnostic.sleep` (ms). */
  taskMs: number;
  /** WORKER_CONCURRENCY of the single worker during the workload: its capacity is concurrency × 1000 / taskMs per second. */
  concurrency: number;
  /** The flood's rate over that capacity (1.5: half as many again as the worker can run). */
  overload: number;
  /** One priority-1 task every this many ms. */
  trickleIntervalMs: number;
  /** The tracker's TASK_AGING_AFTER_MS and TASK_AGING_INTERVAL_MS during the workload. */
  agingAfterMs: number;
  agingIntervalMs: number;
}

export interface FairnessResult {
  seconds: number;
  taskMs: number;
  concurrency: number;
  capacityPerSecond: number;
  floodPerSecond: number;
  agingAfterMs: number;
  agingIntervalMs: number;
  /** What each priority-1 task should start within: the bound, one pass, the prefetch ahead (2 tasks per slot), and slack. */
  startBoundMs: number;
  flood: {
    tasks: number;
    /** Priority-10 tasks completed per second while the flood ran (the worker's real capacity). */
    completedPerSecond: number;
    /** Priority-10 tasks still pending when the flood stopped: the backlog it built. */
    pendingAtEnd: number;
    /** started_at − created_at of the priority-10 tasks, ms (all of them, the backlog included). */
    waitMs: Percentiles;
  };
  trickle: {
    tasks: number;
    /** started_at − created_at of each priority-1 task, ms. */
    waitMs: Percentiles;
    startedWithinBound: number;
    /** Priority-1 tasks aged (an `aged` history row), and claimed more than once (must be 0: the copy left behind is dropped). */
    aged: number;
    claimedMoreThanOnce: number;
  };
}

interface Row {
  priority: number;
  wait_ms: number | string | null;
  attempt: number;
  aged: number | string;
}

const sleepTask = (ms: number, priority: number) => ({
  task_name: TaskName.DiagnosticSleep,
  task_type: TaskType.Email,
  params: { ms },
  priority,
});

/**
 * Fairness (ADR 0015): one worker of known capacity, a steady flood of priority-10 tasks above it
 * and a trickle of priority-1 tasks for `seconds`. Without aging no priority-1 task would start
 * before the flood's backlog is gone; with it, each should start within TASK_AGING_AFTER_MS plus
 * a pass and the prefetch ahead of it. The tracker and the worker run with the workload's settings
 * and get their usual ones back afterwards.
 */
export async function fairness(system: BenchSystem, options: FairnessOptions): Promise<FairnessResult> {
  for (const key of system.workers().filter((key) => key !== 'worker-email')) {
    await system.stopApp(key);
  }
  await system.clearTasks();
  await system.restartApp('status-tracker', {
    TASK_AGING_AFTER_MS: String(options.agingAfterMs),
    TASK_AGING_INTERVAL_MS: String(options.agingIntervalMs),
  });
  await system.restartApp('worker-email', { WORKER_CONCURRENCY: String(options.concurrency) });
  try {
    return await run(system, options);
  } finally {
    await system.restartApp('status-tracker', {});
    await system.restartApp('worker-email', {});
  }
}

async function run(system: BenchSystem, options: FairnessOptions): Promise<FairnessResult> {
  const capacityPerSecond = (options.concurrency * 1_000) / options.taskMs;
  const floodPerSecond = capacityPerSecond * options.overload;
  const perBatch = Math.max(1, Math.round(floodPerSecond / FLOOD_BATCHES_PER_SECOND));
  const started = Date.now();
  const end = started + options.seconds * 1_000;
  let floodTasks = 0;
  let trickleTasks = 0;
  const flood = (async () => {
    for (let tick = 0; Date.now() < end; tick += 1) {
      await postCreated(system, '/api/tasks/enqueue/batch', {
        tasks: Array.from({ length: perBatch }, () => sleepTask(options.taskMs, 10)),
      });
      floodTasks += perBatch;
      await sleepUntil(started + ((tick + 1) * 1_000) / FLOOD_BATCHES_PER_SECOND);
    }
  })();
  const trickle = (async () => {
    for (let tick = 0; Date.now() < end; tick += 1) {
      await postCreated(system, '/api/tasks/enqueue', sleepTask(options.taskMs, 1));
      trickleTasks += 1;
      await sleepUntil(started + (tick + 1) * options.trickleIntervalMs);
    }
  })();
  await Promise.all([flood, trickle]);
  const floodSeconds = (Date.now() - started) / 1_000;
  const [{ completed, pending }] = await system.query<{ completed: number | string; pending: number | string }>(
    `SELECT SUM(status = '${TaskStatus.Completed}') AS completed, SUM(status = '${TaskStatus.Pending}') AS pending
       FROM background_tasks WHERE priority = 10`,
  );
  const total = floodTasks + trickleTasks;
  if ((await system.waitForCompleted(total, DRAIN_TIMEOUT_MS)) < total) {
    throw new Error(`the backlog of the fairness workload did not drain within ${DRAIN_TIMEOUT_MS / 1_000} s`);
  }
  const rows = await system.query<Row>(
    `SELECT t.priority, t.attempt, TIMESTAMPDIFF(MICROSECOND, t.created_at, t.started_at) / 1000 AS wait_ms,
            (SELECT COUNT(*) FROM background_task_events e WHERE e.task_id = t.task_id AND e.event = 'aged') AS aged
       FROM background_tasks t`,
  );
  const waits = (priority: number) => rows.filter((row) => row.priority === priority).map((row) => Number(row.wait_ms));
  const startBoundMs = options.agingAfterMs + options.agingIntervalMs + 2 * options.taskMs + SLACK_MS;
  const low = rows.filter((row) => row.priority === 1);
  return {
    seconds: options.seconds,
    taskMs: options.taskMs,
    concurrency: options.concurrency,
    capacityPerSecond,
    floodPerSecond: perBatch * FLOOD_BATCHES_PER_SECOND,
    agingAfterMs: options.agingAfterMs,
    agingIntervalMs: options.agingIntervalMs,
    startBoundMs,
    flood: {
      tasks: floodTasks,
      completedPerSecond: Number(completed) / floodSeconds,
      pendingAtEnd: Number(pending),
      waitMs: percentiles(waits(10)),
    },
    trickle: {
      tasks: trickleTasks,
      waitMs: percentiles(waits(1)),
      startedWithinBound: waits(1).filter((wait) => wait <= startBoundMs).length,
      aged: low.filter((row) => Number(row.aged) > 0).length,
      claimedMoreThanOnce: low.filter((row) => row.attempt !== 1).length,
    },
  };
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}
