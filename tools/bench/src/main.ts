/**
 * `npm run bench`: starts Tasklane (the built apps as separate processes, a fresh database and
 * RabbitMQ vhost), runs the workloads of docs/benchmarks.md, prints a table, writes JSON and
 * stops everything. Guarantees stay on: publisher confirms, persistent messages, commit before
 * ack, the database's default durability.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchSystem } from './bench-system';
import { delayed } from './delayed';
import { fairness } from './fairness';
import { delayedFailures, fairnessFailures, renderReport, waitersFailures } from './report';
import { waiters } from './waiters';
import { batch, idleRss, manyRows, priority, throughput } from './workloads';

const WORKSPACE_ROOT = resolve(__dirname, '../../..');
const WORKLOADS = ['throughput', 'batch', 'priority', 'rows', 'delayed', 'waiters', 'fairness'] as const;

const HELP = `npm run bench -- [options]
  --tasks N            tasks per throughput and batch run (default 20000)
  --connections N      concurrent HTTP connections of the single-enqueue load (default 64)
  --batch-connections N  concurrent connections of the batch load (default 4)
  --replicas N         most worker replicas: throughput runs with 1..N (default 2)
  --concurrency N      WORKER_CONCURRENCY of each worker (default 32)
  --rows N             rows for the list/count workload, 0 to skip (default 1000000)
  --samples N          timed requests per list/count query (default 100)
  --idle-seconds N     how long the apps idle after start before their idle RSS is read (default 45)
  --log-level L        LOG_LEVEL of the apps (default log, as in production)
  --delayed-waiting N  delayed workload: tasks scheduled over an hour that wait meanwhile (default 100000)
  --delayed-due N      delayed workload: tasks due within seconds whose start lag is measured (default 300)
  --delayed-due-seconds N  over how long their run_at spread (default 20)
  --delayed-idle-seconds N  idle window metered without and with the waiting tasks (default 30)
  --waiters N          waiters workload: pending tasks, one client waiting on each (?wait=60) (default 1000)
  --waiters-idle-seconds N  idle window metered with no client and with all of them waiting (default 20)
  --fairness-seconds N fairness workload: how long a priority-10 flood above the worker's capacity and a
                       priority-1 trickle run (default 30)
  --aging-after-ms N   fairness workload: the tracker's TASK_AGING_AFTER_MS (default 5000)
  --workloads LIST     comma-separated: throughput,batch,priority,rows,delayed,waiters,fairness (default all)
  --cpu-prof DIR       write a V8 CPU profile of every app into DIR (node --cpu-prof)
  --out FILE           JSON results (default tmp/bench/results-<time>.json)
  --smoke              a small, quick run (2000 tasks, 200 + 20 priority, 20000 rows,
                       2000 waiting + 30 due over 5 s delayed tasks, 100 waiting clients
                       over 3 s windows)`;

function options() {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '20000' },
      connections: { type: 'string', default: '64' },
      'batch-connections': { type: 'string', default: '4' },
      replicas: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '32' },
      rows: { type: 'string', default: '1000000' },
      samples: { type: 'string', default: '100' },
      'idle-seconds': { type: 'string', default: '45' },
      'log-level': { type: 'string', default: 'log' },
      'delayed-waiting': { type: 'string', default: '100000' },
      'delayed-due': { type: 'string', default: '300' },
      'delayed-due-seconds': { type: 'string', default: '20' },
      'delayed-idle-seconds': { type: 'string', default: '30' },
      waiters: { type: 'string', default: '1000' },
      'waiters-idle-seconds': { type: 'string', default: '20' },
      'fairness-seconds': { type: 'string', default: '30' },
      'aging-after-ms': { type: 'string', default: '5000' },
      out: { type: 'string' },
      workloads: { type: 'string', default: WORKLOADS.join(',') },
      'cpu-prof': { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) {
      throw new Error(`--${name} must be an integer ≥ ${min} (got ${value})`);
    }
    return parsed;
  };
  const smoke = values.smoke;
  const workloads = values.workloads.split(',').map((name) => name.trim());
  const unknown = workloads.filter((name) => !(WORKLOADS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown workload(s) ${unknown.join(', ')}; known: ${WORKLOADS.join(', ')}`);
  }
  return {
    tasks: smoke ? 2_000 : int('tasks', values.tasks, 1),
    connections: int('connections', values.connections, 1),
    batchConnections: int('batch-connections', values['batch-connections'], 1),
    replicas: int('replicas', values.replicas, 1),
    concurrency: int('concurrency', values.concurrency, 1),
    rows: smoke ? 20_000 : int('rows', values.rows, 0),
    samples: smoke ? 20 : int('samples', values.samples, 1),
    idleSeconds: smoke ? 5 : int('idle-seconds', values['idle-seconds'], 0),
    logLevel: values['log-level'],
    priorityLow: smoke ? 200 : 2_000,
    priorityHigh: smoke ? 20 : 50,
    delayedWaiting: smoke ? 2_000 : int('delayed-waiting', values['delayed-waiting'], 1),
    delayedDue: smoke ? 30 : int('delayed-due', values['delayed-due'], 1),
    delayedDueSeconds: smoke ? 5 : int('delayed-due-seconds', values['delayed-due-seconds'], 1),
    delayedIdleSeconds: smoke ? 5 : int('delayed-idle-seconds', values['delayed-idle-seconds'], 1),
    waiters: smoke ? 100 : int('waiters', values.waiters, 1),
    waitersIdleSeconds: smoke ? 3 : int('waiters-idle-seconds', values['waiters-idle-seconds'], 1),
    fairnessSeconds: smoke ? 8 : int('fairness-seconds', values['fairness-seconds'], 1),
    agingAfterMs: smoke ? 2_000 : int('aging-after-ms', values['aging-after-ms'], 1),
    out:
      values.out ??
      join(WORKSPACE_ROOT, 'tmp', 'bench', `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    smoke,
    workloads: new Set(workloads),
    cpuProfileDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
  };
}

async function main(): Promise<void> {
  const config = options();
  const log = (line: string): void => {
    process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  log(`starting the system (${config.replicas > 1 ? '1 worker replica first' : '1 worker replica'})`);
  const system = await BenchSystem.start({
    workerReplicas: 1,
    env: { LOG_LEVEL: config.logLevel, WORKER_CONCURRENCY: String(config.concurrency) },
    nodeOptions: config.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfileDir}`],
  });
  try {
    log(`idle: reading each app's RSS for ${config.idleSeconds} s before any load`);
    const idle = await idleRss(system, config.idleSeconds * 1_000);
    const runs = [];
    if (config.workloads.has('throughput')) {
      for (let replicas = 1; replicas <= config.replicas; replicas += 1) {
        if (replicas > 1) {
          await system.startApp('worker-email', replicas);
        }
        log(`throughput: ${config.tasks} single enqueues at ${config.connections} connections, ${replicas} worker(s)`);
        runs.push(await throughput(system, config.tasks, config.connections));
      }
    }
    let batched = null;
    if (config.workloads.has('batch')) {
      log(`batch: ${config.tasks} tasks in batches of 1000 at ${config.batchConnections} connections`);
      batched = await batch(system, config.tasks, 1_000, config.batchConnections);
    }
    let ranked = null;
    if (config.workloads.has('priority')) {
      log(`priority: ${config.priorityLow} priority-1 then ${config.priorityHigh} priority-10 tasks, workers stopped`);
      ranked = await priority(system, config.priorityLow, config.priorityHigh);
    }
    let rows = null;
    if (config.workloads.has('rows') && config.rows > 0) {
      log(`list and count with ${config.rows} rows`);
      rows = await manyRows(system, config.rows, config.samples);
    }
    let scheduled = null;
    if (config.workloads.has('delayed')) {
      log(
        `delayed: ${config.delayedWaiting} tasks scheduled over an hour, idle ${config.delayedIdleSeconds} s ` +
          `without and with them; then ${config.delayedDue} tasks due over ${config.delayedDueSeconds} s`,
      );
      scheduled = await delayed(system, {
        waiting: config.delayedWaiting,
        batchSize: 1_000,
        connections: config.batchConnections,
        waitingLeadMs: 10 * 60_000,
        waitingSpreadMs: 60 * 60_000,
        idleMs: config.delayedIdleSeconds * 1_000,
        due: config.delayedDue,
        dueSpreadMs: config.delayedDueSeconds * 1_000,
        relayIntervalMs: Number(process.env['DUE_RELAY_INTERVAL_MS'] ?? 200),
        querySamples: config.samples,
      });
    }
    let waited = null;
    if (config.workloads.has('waiters')) {
      log(
        `waiters: ${config.waiters} pending tasks, idle ${config.waitersIdleSeconds} s with no client and with ` +
          `one client waiting on each; then all cancelled`,
      );
      waited = await waiters(system, {
        waiters: config.waiters,
        idleMs: config.waitersIdleSeconds * 1_000,
        waitSeconds: 60,
        pollIntervalMs: Number(process.env['TASK_WAIT_POLL_INTERVAL_MS'] ?? 200),
        runAtLeadMs: 10 * 60_000,
        batchSize: 1_000,
        cancelConnections: 4,
        querySamples: config.samples,
      });
    }
    let fair = null;
    if (config.workloads.has('fairness')) {
      log(
        `fairness: a priority-10 flood at 1.5 × one worker's capacity and a priority-1 task a second for ` +
          `${config.fairnessSeconds} s, TASK_AGING_AFTER_MS ${config.agingAfterMs}`,
      );
      fair = await fairness(system, {
        seconds: config.fairnessSeconds,
        taskMs: 100,
        concurrency: 4,
        overload: 1.5,
        trickleIntervalMs: 1_000,
        agingAfterMs: config.agingAfterMs,
        agingIntervalMs: 1_000,
      });
    }
    const results = {
      date: new Date().toISOString(),
      conditions: {
        machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
        node: process.version,
        database: (await system.query<{ v: string }>('SELECT VERSION() AS v'))[0].v,
        workerConcurrency: config.concurrency,
        logLevel: config.logLevel,
        smoke: config.smoke,
      },
      idleSeconds: config.idleSeconds,
      startRssMiB: idle.start,
      idleRssMiB: idle.idle,
      throughput: runs,
      batch: batched,
      priority: ranked,
      rows,
      delayed: scheduled,
      waiters: waited,
      fairness: fair,
    };
    mkdirSync(dirname(config.out), { recursive: true });
    writeFileSync(config.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\n${renderReport(results)}\nJSON: ${config.out}\n`);
    const failures = [
      ...(scheduled ? delayedFailures(scheduled).map((failure) => `delayed tasks: ${failure}`) : []),
      ...(waited ? waitersFailures(waited).map((failure) => `waiting clients: ${failure}`) : []),
      ...(fair ? fairnessFailures(fair).map((failure) => `fairness: ${failure}`) : []),
    ];
    if (failures.length > 0) {
      process.stderr.write(`bench FAILED (${failures.join('; ')})\n`);
      process.exitCode = 1;
    }
  } finally {
    log('stopping the system');
    await system.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
