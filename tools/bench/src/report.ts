import { Percentiles, round } from './stats';
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
