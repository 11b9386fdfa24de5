import { DelayedResult } from './delayed';
import { FairnessResult } from './fairness';
import { Percentiles, round } from './stats';
import { WaitWindow, WaitersResult } from './waiters';
import { BatchResult, PriorityResult, RowsResult, ThroughputResult } from './workloads';

export interface BenchResults {
  date: string;
  conditions: Record<string, unknown>;
  idleSeconds: number;
  startRssMiB: Record<string, number>;
  idleRssMiB: Record<string, number>;
  throughput: ThroughputResult[];
  batch: BatchResult | null;
  priority: PriorityResult | null;
  rows: RowsResult | null;
  delayed: DelayedResult | null;
  waiters: WaitersResult | null;
  fairness: FairnessResult | null;
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const lines = [header, header.map(() => '---'), ...rows.map((row) => row.map(String))];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const ms = (value: number): string => (Number.isNaN(value) ? '—' : `${round(value, 1)}`);
const spread = (p: Percentiles): string => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;

/** The results as Markdown tables (what `npm run bench` prints and docs/benchmarks.md quotes). */
export function renderReport(results: BenchResults): string {
  const sections: string[] = [];
  sections.push(
    `Tasklane benchmark, ${results.date}\nConditions: ${Object.entries(results.conditions)
      .map(([key, value]) => `${key} ${String(value)}`)
      .join('; ')}`,
  );
  if (results.throughput.length > 0) {
    sections.push(throughputSection(results));
  }
  if (results.batch) {
    sections.push(batchSection(results.batch));
  }
  if (results.priority) {
    sections.push(prioritySection(results.priority));
  }
  if (results.rows) {
    sections.push(rowsSection(results.rows));
  }
  if (results.delayed) {
    sections.push(delayedSection(results.delayed));
  }
  if (results.waiters) {
    sections.push(waitersSection(results.waiters));
  }
  if (results.fairness) {
    sections.push(fairnessSection(results.fairness));
  }
  return sections.join('\n\n');
}

function throughputSection(results: BenchResults): string {
  const first = results.throughput[0];
  const runs = table(
    [
      'workers',
      'tasks',
      'conns',
      'enqueue req/s',
      'enqueue ms p50/p95/p99',
      'end-to-end tasks/s',
      'created→started ms p50/p95/p99',
      'created→completed ms p50/p95/p99',
      'app CPU ms/task',
      'load generator CPU ms/request',
    ],
    results.throughput.map((run) => [
      run.workerReplicas,
      run.tasks,
      run.connections,
      Math.round(run.enqueue.requestsPerSecond),
      spread(run.enqueue.latencyMs),
      Math.round(run.endToEnd.tasksPerSecond),
      spread(run.endToEnd.createdToStartedMs),
      spread(run.endToEnd.createdToCompletedMs),
      round(run.cost.appsCpuMsPerTask, 3),
      round(run.enqueue.generatorCpuMsPerRequest, 3),
    ]),
  );
  const cost = table(
    ['process', 'CPU ms/task', 'RSS MiB at start', `idle RSS MiB (after ${results.idleSeconds} s)`, 'peak RSS MiB'],
    Object.keys(first.cost.cpuMsPerTask).map((name) => [
      name,
      round(first.cost.cpuMsPerTask[name], 3),
      ms(results.startRssMiB[name] ?? results.startRssMiB[`${name}#1`] ?? NaN),
      ms(results.idleRssMiB[name] ?? results.idleRssMiB[`${name}#1`] ?? NaN),
      ms(first.cost.peakRssMiB[name] ?? first.cost.peakRssMiB[`${name}#1`] ?? NaN),
    ]),
  );
  return (
    `### Throughput: single enqueue, no-op tasks, run to completion\n\n${runs}\n\n` +
    `### CPU ms per task (single-enqueue run, 1 worker) and memory\n\n${cost}`
  );
}

function batchSection(batch: BatchResult): string {
  return `### Batch enqueue\n\n${table(
    [
      'tasks',
      'batch',
      'conns',
      'enqueued tasks/s',
      'request ms p50/p95/p99',
      'end-to-end tasks/s',
      'app CPU ms/task',
      'enqueued tasks/s, workers stopped',
      'RabbitMQ alone, publishes/s',
    ],
    [
      [
        batch.tasks,
        batch.batchSize,
        batch.connections,
        Math.round(batch.enqueuedTasksPerSecond),
        spread(batch.enqueue.latencyMs),
        Math.round(batch.endToEnd.tasksPerSecond),
        round(batch.cost.appsCpuMsPerTask, 3),
        Math.round(batch.workersStoppedTasksPerSecond),
        Math.round(batch.brokerAlonePublishesPerSecond),
      ],
    ],
  )}`;
}

function prioritySection(priority: PriorityResult): string {
  return `### Priority under backlog\n\n${table(
    ['backlog', 'high-priority', 'mean completion rank (ideal)', `among the first ${priority.within}`],
    [
      [
        priority.low,
        priority.high,
        `${round(priority.meanRank, 1)} (${(priority.high + 1) / 2})`,
        `${priority.amongFirst} of ${priority.marked}`,
      ],
    ],
  )}`;
}

function rowsSection(rows: RowsResult): string {
  const loaded =
    `Rows inserted in ${rows.insertSeconds.toFixed(1)} s (one INSERT … SELECT); the tracker folded their ` +
    `count changes ${rows.foldSeconds.toFixed(1)} s later, before the timings.`;
  return `### List and count with ${rows.rows} rows (sequential requests)\n\n${loaded}\n\n${table(
    ['request', 'ms p50/p95/p99'],
    [
      ['GET /api/tasks/?status=failed&limit=50', spread(rows.listByStatusMs)],
      ['GET /api/tasks/?status=completed&task_type=report&limit=50', spread(rows.listByStatusAndTypeMs)],
      [`GET /api/tasks/?status=completed&limit=50&offset=${rows.deepOffset}`, spread(rows.deepOffsetMs)],
      [
        'GET /api/tasks/?status=completed&limit=50&cursor=… (page after page)',
        rows.cursorPagesMs ? spread(rows.cursorPagesMs) : 'no cursor',
      ],
      [
        'GET /api/tasks/?status=completed&limit=50&cursor=… (from half way down)',
        rows.deepCursorPagesMs ? spread(rows.deepCursorPagesMs) : 'no cursor',
      ],
      [
        'GET /api/tasks/?task_type=report&limit=50&cursor=… (from half way down)',
        rows.deepCursorPagesByTypeMs ? spread(rows.deepCursorPagesByTypeMs) : 'no cursor',
      ],
      ['GET /api/tasks/count/all?status=failed', spread(rows.countByStatusMs)],
      ['GET /api/tasks/count/all?status=completed', spread(rows.countAllMs)],
    ],
  )}`;
}

/** What went wrong in the delayed workload (a task started or published before its time), or none. */
export function delayedFailures(delayed: DelayedResult): string[] {
  const failures: string[] = [];
  if (delayed.due.startedEarly > 0) {
    failures.push(`${delayed.due.startedEarly} of ${delayed.due.tasks} delayed tasks started before their run_at`);
  }
  if (delayed.waiting.publishedEarly > 0) {
    failures.push(`${delayed.waiting.publishedEarly} waiting tasks were published before their due_at`);
  }
  for (const state of [delayed.empty, delayed.loaded]) {
    if (state.queuedMessages > 0) {
      failures.push(`${state.queuedMessages} messages in the email queue with ${state.waitingTasks} tasks waiting`);
    }
  }
  return failures;
}

function delayedSection(delayed: DelayedResult): string {
  const { waiting, empty, loaded, due } = delayed;
  const enqueue = table(
    ['waiting tasks', 'due', 'batch', 'conns', 'enqueue s', 'enqueued tasks/s', 'request ms p50/p95/p99', 'fold s'],
    [
      [
        waiting.tasks,
        `${waiting.leadSeconds / 60}–${(waiting.leadSeconds + waiting.spreadSeconds) / 60} min ahead`,
        waiting.batchSize,
        waiting.connections,
        round(waiting.enqueue.durationMs / 1_000, 1),
        Math.round(waiting.enqueuedTasksPerSecond),
        spread(waiting.enqueue.latencyMs),
        round(waiting.foldSeconds, 1),
      ],
    ],
  );
  const apps = Object.keys(waiting.rssBeforeMiB);
  const names = [...new Set([...apps.map((key) => key.split('#')[0]), ...Object.keys(loaded.cpuMs)])];
  const rss = (record: Record<string, number>, name: string): string => ms(record[name] ?? record[`${name}#1`] ?? NaN);
  const perProcess = table(
    [
      'process',
      'RSS MiB before',
      'RSS MiB after enqueue',
      `RSS MiB after ${delayed.idleSeconds} s idle`,
      'enqueue CPU ms/task',
      `idle CPU ms over ${delayed.idleSeconds} s, 0 waiting`,
      `idle CPU ms over ${delayed.idleSeconds} s, ${waiting.tasks} waiting`,
    ],
    names.map((name) => [
      name,
      rss(waiting.rssBeforeMiB, name),
      rss(waiting.rssAfterMiB, name),
      rss(loaded.rssMiB, name),
      round(waiting.enqueueCpuMsPerTask[name] ?? NaN, 3),
      Math.round(empty.cpuMs[name] ?? NaN),
      Math.round(loaded.cpuMs[name] ?? NaN),
    ]),
  );
  const relay = table(
    [
      'waiting tasks',
      'due-relay query ms p50/p95/p99',
      'rows read',
      `tracker CPU ms per ${delayed.relayIntervalMs} ms`,
      'tracker /metrics ms p50',
      'messages queued',
    ],
    [empty, loaded].map((state) => [
      state.waitingTasks,
      spread(state.dueQueryMs),
      state.dueQueryRowsRead,
      round(state.trackerCpuMsPerRelayInterval, 3),
      ms(state.trackerScrapeMs.p50),
      state.queuedMessages,
    ]),
  );
  const lag = table(
    [
      'due tasks',
      'run_at over',
      'start lag ms p50/p95/p99',
      'max',
      'dispatch lag ms p50/p95/max',
      'started before run_at',
    ],
    [
      [
        due.tasks,
        `${due.spreadSeconds} s`,
        spread(due.startLagMs),
        ms(due.startLagMs.max),
        `${ms(due.dispatchLagMs.p50)} / ${ms(due.dispatchLagMs.p95)} / ${ms(due.dispatchLagMs.max)}`,
        due.startedEarly === 0 ? '0' : `**${due.startedEarly} — FAIL**`,
      ],
    ],
  );
  const failures = delayedFailures(delayed);
  return (
    `### Delayed tasks: ${waiting.tasks} waiting, then ${due.tasks} due within ${due.spreadSeconds} s\n\n${enqueue}\n\n` +
    `${perProcess}\n\n${relay}\n\n` +
    `Start lag = started_at − run_at of the due tasks (${waiting.tasks} still waiting, the worker otherwise idle); ` +
    `dispatch lag = dispatched_at − run_at (the relay's publish confirmed).\n\n${lag}` +
    (failures.length > 0 ? `\n\n**FAILED: ${failures.join('; ')}**` : '')
  );
}

/**
 * What went wrong in the waiters workload, or none: a client not answered 200 with a final
 * status, answered before its task finished, a cancel refused, fewer connections held than
 * clients, reads with nobody waiting, or more than a few statements per poll interval with
 * everyone waiting (one read per client instead of one poll for all).
 */
export function waitersFailures(waiters: WaitersResult): string[] {
  const failures: string[] = [];
  const { finish, empty, loaded } = waiters;
  if (finish.answered < waiters.waiters) {
    failures.push(
      `${waiters.waiters - finish.answered} of ${waiters.waiters} waiting clients did not get 200 with a final status ` +
        `(HTTP ${JSON.stringify(finish.httpStatuses)}, task status ${JSON.stringify(finish.taskStatuses)})`,
    );
  }
  if (waiters.answeredEarly > 0) {
    failures.push(`${waiters.answeredEarly} waiting clients were answered before their task was cancelled`);
  }
  if (finish.cancelled < waiters.waiters) {
    failures.push(`${waiters.waiters - finish.cancelled} of ${waiters.waiters} cancels did not answer 200`);
  }
  if (loaded.gatewayConnections < waiters.waiters) {
    failures.push(`the gateway held ${loaded.gatewayConnections} connections for ${waiters.waiters} waiting clients`);
  }
  if (empty.pollStatements > 0) {
    failures.push(`${empty.pollStatements} waiter polls with no client waiting`);
  }
  // One poll per interval reads 1,000 tasks per statement; allow twice that (and the idle baseline).
  const allowed = 2 * Math.ceil(waiters.waiters / 1_000) + empty.statementsPerPollInterval;
  if (loaded.statementsPerPollInterval > allowed) {
    failures.push(
      `the gateway made ${round(loaded.statementsPerPollInterval, 1)} statements per ${waiters.pollIntervalMs} ms ` +
        `with ${waiters.waiters} clients waiting (at most ${round(allowed, 1)} expected: one poll for all)`,
    );
  }
  return failures;
}

function waitersSection(waiters: WaitersResult): string {
  const { empty, loaded, finish } = waiters;
  const cpuDelta = loaded.gatewayCpuMsPerSecond - empty.gatewayCpuMsPerSecond;
  const windows = table(
    [
      'clients waiting',
      'gateway CPU ms/s',
      'gateway RSS MiB start → end',
      'gateway heap used MiB',
      'MariaDB CPU ms/s (shared server)',
      `gateway statements/s (per ${waiters.pollIntervalMs} ms)`,
      'of them polls / task reads',
      'server-wide Com_select/s (all clients)',
      'gateway connections',
      'load avg (1 min)',
    ],
    [empty, loaded].map((state) => [
      state.waitingClients,
      round(state.gatewayCpuMsPerSecond, 2),
      `${ms(state.gatewayRssStartMiB)} → ${ms(state.gatewayRssEndMiB)}`,
      ms(state.gatewayHeapUsedMiB),
      round(state.mariadbCpuMsPerSecond, 1),
      `${round(state.statementsPerSecond, 2)} (${round(state.statementsPerPollInterval, 2)})`,
      `${state.pollStatements} / ${state.taskReads}`,
      Math.round(state.serverComSelectPerSecond),
      state.gatewayConnections,
      round(state.loadAverage, 2),
    ]),
  );
  const cost = table(
    [
      'clients',
      'RSS Δ MiB (KiB/client)',
      'heap Δ MiB (KiB/client)',
      'gateway CPU Δ ms/s (ms per poll)',
      'statements/s measured',
      `if each client polled every ${waiters.pollIntervalMs} ms`,
      'poll query ms p50/p95/p99 (from the bench)',
      'handler reads per poll',
    ],
    [
      [
        waiters.waiters,
        `${round(waiters.rssDeltaMiB, 1)} (${round(waiters.rssDeltaKiBPerClient, 1)})`,
        `${round(waiters.heapDeltaMiB, 1)} (${round(waiters.heapDeltaKiBPerClient, 1)})`,
        `${round(cpuDelta, 2)} (${round((cpuDelta * loaded.seconds) / loaded.pollStatements, 2)})`,
        round(loaded.statementsPerSecond, 2),
        Math.round(waiters.perClientPollingStatementsPerSecond),
        spread(waiters.pollQueryMs),
        waiters.pollQueryHandlerReads,
      ],
    ],
  );
  const lag = table(
    [
      'clients',
      'cancels (conns)',
      'cancel s',
      '200 with a final status',
      'answer − completed_at ms p50/p95/p99',
      'max',
      'answer − cancel answer ms p50/p95/max',
      'polls / task reads meanwhile',
    ],
    [
      [
        waiters.waiters,
        `${finish.cancelled} (${finish.cancelConnections})`,
        round(finish.cancelSeconds, 2),
        finish.answered === waiters.waiters ? `${finish.answered}` : `**${finish.answered} — FAIL**`,
        spread(finish.lagFromCompletedMs),
        ms(finish.lagFromCompletedMs.max),
        `${ms(finish.lagFromCancelAnswerMs.p50)} / ${ms(finish.lagFromCancelAnswerMs.p95)} / ` +
          `${ms(finish.lagFromCancelAnswerMs.max)}`,
        `${finish.pollStatements} / ${finish.taskReads}`,
      ],
    ],
  );
  const shapes = (state: WaitWindow): string =>
    Object.entries(state.statements)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 5)
      .map(([shape, count]) => `${count} × \`\` ${shape} \`\``)
      .join('; ') || 'none';
  const failures = waitersFailures(waiters);
  return (
    `### Waiting clients: ${waiters.waiters} clients (${waiters.clientsPerTask} per task) on \`?wait=${waiters.waitSeconds}\`, ` +
    `idle windows of ${waiters.idleSeconds} s, TASK_WAIT_POLL_INTERVAL_MS ${waiters.pollIntervalMs}\n\n` +
    `Tasks pending (run_at ${waiters.runAtLeadSeconds / 60} min ahead); all ${waiters.waiters} waiting ` +
    `${round(waiters.openSeconds, 2)} s after the first request. Statements: what the gateway sent MariaDB ` +
    `(a counting proxy in between).\n\n${windows}\n\n${cost}\n\n` +
    `Statements with no client waiting: ${shapes(empty)}. With ${waiters.waiters} waiting: ${shapes(loaded)}.\n\n` +
    `Then every task cancelled; answer lag per client (answer arrived at the bench − the task's completed_at, ` +
    `or − its cancel's answer).\n\n${lag}` +
    (failures.length > 0 ? `\n\n**FAILED: ${failures.join('; ')}**` : '')
  );
}

/** What went wrong in the fairness workload, or none. */
export function fairnessFailures(fairness: FairnessResult): string[] {
  const failures: string[] = [];
  const { flood, trickle } = fairness;
  if (flood.pendingAtEnd === 0) {
    failures.push('the flood left no backlog: it did not outrun the worker, so nothing was measured');
  }
  if (trickle.startedWithinBound < trickle.tasks) {
    failures.push(
      `${trickle.tasks - trickle.startedWithinBound} of ${trickle.tasks} priority-1 tasks started later than ` +
        `${fairness.startBoundMs} ms after their enqueue (max ${Math.round(trickle.waitMs.max)} ms)`,
    );
  }
  if (trickle.claimedMoreThanOnce > 0) {
    failures.push(`${trickle.claimedMoreThanOnce} priority-1 tasks were claimed more than once`);
  }
  return failures;
}

function fairnessSection(fairness: FairnessResult): string {
  const { flood, trickle } = fairness;
  const rows = table(
    ['tasks', 'count', 'wait ms p50 / p95 / p99', 'wait ms max', 'notes'],
    [
      [
        'priority 10 (flood)',
        flood.tasks,
        spread(flood.waitMs),
        ms(flood.waitMs.max),
        `${Math.round(flood.completedPerSecond)}/s completed while ${Math.round(fairness.floodPerSecond)}/s came in; ` +
          `${flood.pendingAtEnd} pending when it stopped`,
      ],
      [
        'priority 1 (trickle)',
        trickle.tasks,
        spread(trickle.waitMs),
        ms(trickle.waitMs.max),
        `${trickle.startedWithinBound} of ${trickle.tasks} within ${fairness.startBoundMs} ms; ${trickle.aged} aged; ` +
          `${trickle.claimedMoreThanOnce} claimed more than once`,
      ],
    ],
  );
  const failures = fairnessFailures(fairness);
  return (
    `### Fairness: a priority-10 flood above capacity, a priority-1 trickle, ${fairness.seconds} s\n\n` +
    `One worker, WORKER_CONCURRENCY ${fairness.concurrency}, tasks of ${fairness.taskMs} ms: capacity ` +
    `${Math.round(fairness.capacityPerSecond)}/s. TASK_AGING_AFTER_MS ${fairness.agingAfterMs}, ` +
    `TASK_AGING_INTERVAL_MS ${fairness.agingIntervalMs}; bound checked: aging + one pass + the prefetch ahead + ` +
    `1 s = ${fairness.startBoundMs} ms. Wait = started_at − created_at.\n\n${rows}` +
    (failures.length > 0 ? `\n\n**FAILED: ${failures.join('; ')}**` : '')
  );
}
