import { TASK_TYPES, TaskName, TaskStatus, isTerminalStatus, taskQueueName } from '@tasklane/contracts';
import { Execution, readExecutions } from './execution-log';
import { sleep } from './shared-services';
import { TasklaneSystem } from './tasklane-system';

/** What a worker logs once a task's success is committed (task.consumer), with its `task_id`. */
const SUCCEEDED = '"message":"task succeeded"';

export interface DeliveryCheckOptions {
  /** Task ids the client was answered 201 for. */
  accepted: readonly string[];
  /**
   * Tasks whose row was committed although the client got no 201 (e.g. the gateway died between
   * its commit and its answer): they must run like accepted ones.
   */
  committed?: readonly string[];
  /** Rows that are not load tasks (e.g. poison messages' rows); left out of every figure. */
  exclude?: readonly string[];
  /** A task may end `cancelled` — without any execution (the cancel scenario). */
  cancelAllowed?: boolean;
  /**
   * Tasks whose cancel hit them while they were running: their handler may have finished before
   * the abort reached it (once at most), and they must still end `cancelled`, never `completed`.
   */
  cancelledWhileRunning?: ReadonlySet<string>;
  /** How long to wait for every task to reach a final status (default 90 s). */
  timeoutMs?: number;
  /** Wait after the last task finished, so that a late second execution is still counted (default 1.5 s). */
  settleMs?: number;
}

export interface TaskRow {
  task_id: string;
  task_name: string;
  status: TaskStatus;
  attempt: number;
  retry_count: number;
  result: unknown;
  error_message: string | null;
  params: unknown;
}

export interface DeliveryFigures {
  /** Committed tasks: the 201 answers, plus rows committed whose 201 never reached the client. */
  accepted: number;
  /** Of them, committed without a 201 reaching the client. */
  unanswered: number;
  completed: number;
  cancelled: number;
  /** Accepted tasks that never executed and are not completed (or cancelled where allowed), or whose row is missing. */
  lost: number;
  /** Tasks with two or more finished executions in the execution log, not explained by a SIGKILL. */
  executedTwice: number;
  /**
   * Tasks whose handler finished in a process SIGKILLed before it committed the outcome, then ran
   * again under a new claim: the re-run at-least-once per crash allows, not a duplicate delivery.
   */
  rerunAfterCrash: number;
  /** Tasks not in a final status when the check gave up waiting. */
  stuck: number;
  /** Tasks handed back at least once (lease expired or claim released) before they finished (cancelled ones not counted). */
  handedBack: number;
  /** Each problem found, with the task ids concerned. */
  violations: string[];
  rows: Map<string, TaskRow>;
  executions: Map<string, Execution[]>;
}

function parse(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

async function loadRows(system: TasklaneSystem): Promise<Map<string, TaskRow>> {
  const rows = await system.query<TaskRow>(
    'SELECT task_id, task_name, status, attempt, retry_count, result, error_message, params FROM background_tasks',
  );
  return new Map(rows.map((row) => [row.task_id, { ...row, result: parse(row.result), params: parse(row.params) }]));
}

function sample(ids: string[]): string {
  return `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? `, … (${ids.length})` : ''}`;
}

/**
 * The task counts (ADR 0009: folded counts plus the unfolded journal, what the count endpoints
 * read) against a scan of the table, per task type and status: a fault must not make them drift.
 */
async function countsAgainstTable(system: TasklaneSystem): Promise<string[]> {
  type Count = { task_type: string; status: string; n: number | string };
  const key = (row: Count): string => `${row.task_type}/${row.status}`;
  const [counted, scanned] = await Promise.all([
    system.query<Count>(
      `SELECT task_type, status, SUM(n) AS n FROM (
         SELECT task_type, status, n FROM background_task_counts
         UNION ALL SELECT task_type, to_status, 1 FROM background_task_count_changes WHERE to_status IS NOT NULL
         UNION ALL SELECT task_type, from_status, -1 FROM background_task_count_changes WHERE from_status IS NOT NULL
       ) AS changes GROUP BY task_type, status`,
    ),
    system.query<Count>('SELECT task_type, status, COUNT(*) AS n FROM background_tasks GROUP BY task_type, status'),
  ]);
  const expected = new Map(scanned.map((row) => [key(row), Number(row.n)]));
  const actual = new Map(counted.map((row): [string, number] => [key(row), Number(row.n)]).filter(([, n]) => n !== 0));
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  const wrong = keys.filter((k) => (expected.get(k) ?? 0) !== (actual.get(k) ?? 0));
  return wrong.length === 0
    ? []
    : [
        `task counts differ from the table: ${wrong.map((k) => `${k} ${actual.get(k) ?? 0} ≠ ${expected.get(k) ?? 0}`).join(', ')}`,
      ];
}

/**
 * The final check of a fault scenario. Waits (bounded) until every task of the scenario is in a
 * final status, lets late executions land, then counts from the status table AND the execution
 * log (independent of the table):
 * - lost: accepted, never executed and not completed — or the row is missing;
 * - executed twice: two or more finished executions of one task — except the one re-run that
 *   at-least-once per crash allows (ADR 0005): every earlier execution came from a process the
 *   scenario SIGKILLed (one each), that process never logged the task's success (its outcome was
 *   not committed), and the row was handed back; those are counted as `rerunAfterCrash`;
 * - stuck: not in a final status at the deadline;
 * plus violations that are none of those (completed without ever running, cancelled after
 * running, failed, task counts that drifted from the table). The population is every accepted task and every `diagnostic.sleep` row in
 * the table, so a row committed without a 201 must run as well.
 */
export async function checkDelivery(system: TasklaneSystem, options: DeliveryCheckOptions): Promise<DeliveryFigures> {
  const excluded = new Set(options.exclude ?? []);
  const answered = new Set(options.accepted);
  const accepted = new Set([...options.accepted, ...(options.committed ?? [])]);
  const population = async (): Promise<{ ids: Set<string>; rows: Map<string, TaskRow> }> => {
    const rows = await loadRows(system);
    const ids = new Set(accepted);
    for (const row of rows.values()) {
      if (row.task_name === TaskName.DiagnosticSleep) {
        ids.add(row.task_id);
      }
    }
    for (const id of excluded) {
      ids.delete(id);
    }
    return { ids, rows };
  };

  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  let snapshot = await population();
  for (;;) {
    const open = [...snapshot.ids].filter((id) => {
      const row = snapshot.rows.get(id);
      return row !== undefined && !isTerminalStatus(row.status);
    });
    if (open.length === 0 || Date.now() > deadline) {
      break;
    }
    await sleep(500);
    snapshot = await population().catch(() => snapshot);
  }
  // Duplicated commands still queued are dropped at their claim; let them drain, then let any
  // execution that was still finishing reach the log.
  const drainDeadline = Date.now() + 10_000;
  while (Date.now() < drainDeadline) {
    const queued = await Promise.all(TASK_TYPES.map((type) => system.queueState(taskQueueName(type)))).catch(() => []);
    if (queued.every((queue) => queue.messageCount === 0)) {
      break;
    }
    await sleep(250);
  }
  await sleep(options.settleMs ?? 1_500);
  snapshot = await population();
  const executions = readExecutions(system.executionLog);
  const killed = new Map(system.killed.map((process) => [process.pid, process]));
  // Only a process that died without a word can have finished a handler and not committed it.
  const diedBeforeCommit = (run: Execution): boolean => {
    const process = killed.get(run.pid);
    return (
      process !== undefined &&
      !process
        .logs()
        .split('\n')
        .some((line) => line.includes(SUCCEEDED) && line.includes(`"task_id":"${run.taskId}"`))
    );
  };

  const lost: string[] = [];
  const twice: string[] = [];
  let rerunAfterCrash = 0;
  const stuck: string[] = [];
  const completedUnrun: string[] = [];
  const cancelledRun: string[] = [];
  const failed: string[] = [];
  const cancelledUnexpectedly: string[] = [];
  let completed = 0;
  let cancelled = 0;
  let handedBack = 0;
  for (const id of snapshot.ids) {
    const row = snapshot.rows.get(id);
    const runsOf = executions.get(id) ?? [];
    const runs = runsOf.length;
    if (runs >= 2) {
      const earlier = runsOf.slice(0, -1);
      const onePerKilledProcess = new Set(earlier.map((run) => run.pid)).size === earlier.length;
      if (row !== undefined && row.attempt > runs - 1 && onePerKilledProcess && earlier.every(diedBeforeCommit)) {
        rerunAfterCrash += 1;
      } else {
        twice.push(id);
      }
    }
    if (!row) {
      lost.push(id);
      continue;
    }
    // A cancel starts a new generation too, so a cancelled row's attempt says nothing here.
    if (row.attempt > 1 && row.status !== TaskStatus.Cancelled) {
      handedBack += 1;
    }
    if (!isTerminalStatus(row.status)) {
      stuck.push(id);
    }
    switch (row.status) {
      case TaskStatus.Completed:
        completed += 1;
        if (runs === 0) {
          completedUnrun.push(id);
        }
        break;
      case TaskStatus.Cancelled:
        cancelled += 1;
        if (runs > 0 && !options.cancelledWhileRunning?.has(id)) {
          cancelledRun.push(id);
        } else if (!options.cancelAllowed) {
          cancelledUnexpectedly.push(id);
        }
        break;
      case TaskStatus.Failed:
        failed.push(id);
        break;
      case TaskStatus.Pending:
      case TaskStatus.Running:
        break;
    }
    const cancelledOk = options.cancelAllowed === true && row.status === TaskStatus.Cancelled;
    if (runs === 0 && row.status !== TaskStatus.Completed && !cancelledOk && isTerminalStatus(row.status)) {
      lost.push(id);
    }
  }
  const violations: string[] = [];
  const add = (what: string, ids: string[]): void => {
    if (ids.length > 0) {
      violations.push(`${what}: ${sample(ids)}`);
    }
  };
  add('lost', lost);
  add('executed twice', twice);
  add('stuck', stuck);
  add('completed without any execution', completedUnrun);
  add('cancelled but executed', cancelledRun);
  add('failed', failed);
  add('cancelled although nobody cancelled it', cancelledUnexpectedly);
  violations.push(...(await countsAgainstTable(system)));
  return {
    accepted: snapshot.ids.size,
    unanswered: [...snapshot.ids].filter((id) => !answered.has(id)).length,
    completed,
    cancelled,
    lost: lost.length,
    executedTwice: twice.length,
    rerunAfterCrash,
    stuck: stuck.length,
    handedBack,
    violations,
    rows: snapshot.rows,
    executions,
  };
}
