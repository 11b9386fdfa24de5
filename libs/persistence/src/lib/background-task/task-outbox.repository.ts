import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskCommand, TaskHistoryEvent, TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { OUTBOX_COLUMNS, OutboxRow, TABLE, commandOfRow, placeholders } from './task-sql';
import { toJson } from './task-guards';
import { retryWithBackoff } from '@tasklane/concurrency';
import { DatabaseBoundary, isDeadlock, isDuplicateEntry } from '../database/database-errors';
import { HistoryEntry, appendHistory } from '../task-history/task-history.sql';
import {
  ClaimedKey,
  IdempotencyClaim,
  claimedKeyOf,
  deleteExpiredKeys,
  findKeys,
  IdempotencyKeyMismatch,
  insertKeys,
} from '../idempotency/idempotency-key.sql';

/** The columns of a task inserted pending; the others start the same for every task (nothing run yet). */
export interface NewTask {
  taskId: string;
  taskName: TaskName;
  taskType: TaskType;
  priority: number;
  params: Record<string, unknown>;
  maxRetries: number;
  timeoutMs: number;
  createdAt: Date;
  /** Who enqueued it (recorded in its history), when known. */
  actor?: string | null;
  /** When the enqueue asked it to start (`run_at`), if it did. */
  runAt?: Date | null;
  /**
   * Set when the task must wait (its `run_at` is ahead): no command is published now; the due
   * relay publishes it at this time. Null: dispatched at once.
   */
  dueAt?: Date | null;
  /** The idempotency key it is enqueued under, if any ({@link TaskOutboxRepository.insertPendingOnce}). */
  idempotency?: IdempotencyClaim | null;
}

/** What {@link TaskOutboxRepository.insertPendingOnce} did with one task: inserted it, or found its key taken. */
export type PendingInsert = { created: true; task: NewTask } | { created: false; existing: ClaimedKey };

/** Times a keyed enqueue looks again after a concurrent one took a key (or a deadlock) before giving up. */
const KEY_RACE_RETRIES = 4;

const INSERT_PENDING = `INSERT INTO ${TABLE}
  (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, timeout_ms, created_at,
   run_at, due_at)
  VALUES`;
const PENDING_ROW = `(?, ?, ?, ?, '${TaskStatus.Pending}', ?, 0, ?, ?, ?, ?, ?)`;

/**
 * Largest multi-row `INSERT` of a batch, estimated in bytes (params doubled for escaping). Below
 * MariaDB's default `max_allowed_packet` (16 MiB) and MySQL 8's (64 MiB) with room to spare; a
 * batch of 1,000 small tasks is about 200 KB, one statement.
 */
export const MAX_INSERT_STATEMENT_BYTES = 4 * 1_048_576;

function enqueuedEntry(task: NewTask): HistoryEntry {
  return {
    taskId: task.taskId,
    event: TaskHistoryEvent.Enqueued,
    run: 1,
    attempt: 0,
    retryCount: 0,
    actor: task.actor,
    message: task.dueAt ? `scheduled for ${task.dueAt.toISOString()}` : null,
    occurredAt: task.createdAt,
  };
}

function pendingRowParams(task: NewTask): unknown[] {
  return [
    task.taskId,
    task.taskName,
    task.taskType,
    task.priority,
    toJson(task.params),
    task.maxRetries,
    task.timeoutMs,
    task.createdAt,
    task.runAt ?? null,
    task.dueAt ?? null,
  ];
}

/**
 * Inserts pending tasks and their `enqueued` history rows in the caller's transaction: one
 * multi-row `INSERT` per table (several for a batch whose statement would exceed
 * {@link MAX_INSERT_STATEMENT_BYTES} — huge params — below any server's `max_allowed_packet`).
 */
export async function insertPendingRows(
  runner: { query: DataSource['query'] },
  tasks: readonly NewTask[],
): Promise<void> {
  const rows = tasks.map(pendingRowParams);
  const chunks: unknown[][][] = [[]];
  let bytes = 0;
  for (const row of rows) {
    const rowBytes = 200 + Buffer.byteLength(row[4] as string) * 2;
    const current = chunks[chunks.length - 1];
    if (current.length > 0 && bytes + rowBytes > MAX_INSERT_STATEMENT_BYTES) {
      chunks.push([row]);
      bytes = rowBytes;
    } else {
      current.push(row);
      bytes += rowBytes;
    }
  }
  for (const chunk of chunks) {
    await runner.query(
      `${INSERT_PENDING} ${placeholders(chunk.length, PENDING_ROW)}`,
      chunk.flatMap((row) => row),
    );
  }
  await appendHistory(runner, tasks.map(enqueuedEntry));
}

/**
 * The outbox: a task is inserted pending (its command not yet confirmed by the broker), marked
 * dispatched once the broker confirmed it, and relayed again while it is not.
 */
@Injectable()
@DatabaseBoundary()
export class TaskOutboxRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Inserts a pending task; returns the task inserted. */
  async insertPending(task: NewTask): Promise<NewTask> {
    const [inserted] = await this.insertPendingBatch([task]);
    return inserted;
  }

  /**
   * Inserts many pending tasks all or nothing, each with the `enqueued` row of its history: one
   * transaction, normally one multi-row `INSERT` per table (a batch whose statement would exceed {@link MAX_INSERT_STATEMENT_BYTES} — huge params — is
   * split into several statements in the same transaction, below any server's
   * `max_allowed_packet`). Every row is in the outbox once this resolves. Returns the tasks
   * inserted, in the order given.
   */
  async insertPendingBatch(tasks: readonly NewTask[]): Promise<NewTask[]> {
    if (tasks.length === 0) {
      return [];
    }
    await this.dataSource.transaction((manager) => insertPendingRows(manager, tasks));
    return [...tasks];
  }

  /**
   * Like {@link insertPendingBatch}, for tasks enqueued under idempotency keys (and any others):
   * in one transaction, a task whose key is live (not expired) is not inserted — the key's task
   * and fingerprint come back instead — and every other task is inserted with its key. A
   * concurrent request taking one of the keys first makes this wait for its commit, then look
   * again: of any number of concurrent duplicates exactly one inserts. A live key whose
   * fingerprint differs from the task's rejects the whole call ({@link IdempotencyKeyMismatch}),
   * nothing written. Returns one outcome per task, in order.
   */
  async insertPendingOnce(tasks: readonly NewTask[]): Promise<PendingInsert[]> {
    return retryWithBackoff(() => this.insertPendingOnceTry(tasks), {
      minDelayMs: 0,
      maxDelayMs: 20,
      maxAttempts: 1 + KEY_RACE_RETRIES,
      retryIf: (error) => isDuplicateEntry(error) || isDeadlock(error),
    });
  }

  private insertPendingOnceTry(tasks: readonly NewTask[]): Promise<PendingInsert[]> {
    return this.dataSource.transaction(async (manager) => {
      const claims = tasks.flatMap((task) => (task.idempotency ? [task.idempotency] : []));
      const keys = claims.length > 0 ? await findKeys(manager, claims) : { live: new Map(), expired: [] };
      await deleteExpiredKeys(manager, keys.expired);
      const outcomes: PendingInsert[] = tasks.map((task, index) => {
        const existing = task.idempotency ? claimedKeyOf(keys.live, task.idempotency) : undefined;
        if (existing && existing.fingerprint !== task.idempotency?.fingerprint) {
          // Rolls the whole enqueue back: nothing of it is written.
          throw new IdempotencyKeyMismatch(index, existing);
        }
        return existing ? { created: false, existing } : { created: true, task };
      });
      const created = outcomes.flatMap((outcome) => (outcome.created ? [outcome.task] : []));
      if (created.length > 0) {
        // The keys first: a concurrent duplicate waits here, before any task row is written.
        await insertKeys(
          manager,
          created.flatMap((task) =>
            task.idempotency ? [{ claim: task.idempotency, taskId: task.taskId, createdAt: task.createdAt }] : [],
          ),
        );
        await insertPendingRows(manager, created);
      }
      return outcomes;
    });
  }

  /** Records that the broker confirmed the commands of these tasks: they leave the outbox. */
  async markDispatched(taskIds: readonly string[], at: Date): Promise<void> {
    if (taskIds.length === 0) {
      return;
    }
    await this.dataSource.query(
      `UPDATE ${TABLE} SET dispatched_at = ? WHERE task_id IN (${placeholders(taskIds.length)}) AND dispatched_at IS NULL`,
      [at, ...taskIds],
    );
  }

  /**
   * The outbox relay: in one transaction, locks up to `limit` pending tasks whose command was
   * never confirmed by the broker (older than `minAgeMs`, so the gateway's own publish goes
   * first, and not scheduled for later), hands their commands to `publish` (which resolves once
   * all are confirmed), and marks them dispatched. Rows locked by another relay are skipped.
   * Returns how many were relayed.
   */
  async relayOutbox(
    minAgeMs: number,
    limit: number,
    publish: (commands: TaskCommand[]) => Promise<void>,
  ): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      // The candidates are found without locks, then locked by primary key. A locking scan would
      // also lock every row (and gap) it merely passes over — beyond the LIMIT (filesort), young
      // rows, the gateway's inserts — for as long as the publish takes, and under some plans
      // (index_merge) MariaDB waits for locked rows instead of skipping them.
      const candidates = (await manager.query(
        `SELECT id FROM ${TABLE} FORCE INDEX (idx_background_tasks_dispatched_due)
          WHERE dispatched_at IS NULL AND due_at IS NULL AND status = '${TaskStatus.Pending}'
            AND created_at < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)
          ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))}`,
        [minAgeMs * 1000],
      )) as Array<{ id: string }>;
      return lockAndPublish(manager, candidates, publish);
    });
  }

  /**
   * The due relay (ADR 0012): like {@link relayOutbox}, for the tasks scheduled for later whose
   * time has come (`due_at` ≤ now on the database clock), the earliest due first. Reads only the
   * due range of `(dispatched_at, due_at)`: the tasks scheduled later cost nothing. A cancelled
   * task is no longer pending and never goes out. Returns how many were published.
   */
  async relayDue(limit: number, publish: (commands: TaskCommand[]) => Promise<void>): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const candidates = (await manager.query(
        `SELECT id FROM ${TABLE} FORCE INDEX (idx_background_tasks_dispatched_due)
          WHERE dispatched_at IS NULL AND due_at <= UTC_TIMESTAMP(3) AND status = '${TaskStatus.Pending}'
          ORDER BY due_at, id LIMIT ${Math.max(1, Math.floor(limit))}`,
      )) as Array<{ id: string }>;
      return lockAndPublish(manager, candidates, publish);
    });
  }
}

/**
 * Locks the candidates still pending and undispatched by primary key (`SKIP LOCKED`: another
 * relay, a claim or a cancel holding one keeps it), publishes their commands and marks them
 * dispatched, in the caller's transaction. Returns how many went out.
 */
async function lockAndPublish(
  manager: { query: DataSource['query'] },
  candidates: ReadonlyArray<{ id: string }>,
  publish: (commands: TaskCommand[]) => Promise<void>,
): Promise<number> {
  if (candidates.length === 0) {
    return 0;
  }
  const rows = (await manager.query(
    `SELECT ${OUTBOX_COLUMNS} FROM ${TABLE} FORCE INDEX (PRIMARY)
      WHERE id IN (${placeholders(candidates.length)})
        AND dispatched_at IS NULL AND status = '${TaskStatus.Pending}'
      ORDER BY id FOR UPDATE SKIP LOCKED`,
    candidates.map((candidate) => candidate.id),
  )) as OutboxRow[];
  if (rows.length === 0) {
    return 0;
  }
  await publish(rows.map(commandOfRow));
  // By primary key, whose locks this transaction holds: a worker claiming a relayed task
  // meanwhile holds its task_id key and waits for the row, and taking the task_id key here
  // too would deadlock with it.
  await manager.query(
    `UPDATE ${TABLE} SET dispatched_at = UTC_TIMESTAMP(3) WHERE id IN (${placeholders(rows.length)})`,
    rows.map((row) => row.id),
  );
  return rows.length;
}
