import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { retryWithBackoff } from '@tasklane/concurrency';
import { TaskHistoryEvent, TaskStatus } from '@tasklane/contracts';
import { isDeadlock, DatabaseBoundary } from '../database/database-errors';
import { TypeLimits, lockAllowance } from '../fairness/task-type-limit.sql';
import { TABLE, placeholders } from './task-sql';
import { GuardedRow, movesForward } from './event-guard';
import { HAND_BACK, LEASE_UNTIL, caseOf, updateRows } from './task-guards';
import {
  HistoryEntry,
  HistorySource,
  appendHistory,
  appendHistoryOfRows,
  taskIdIn,
} from '../task-history/task-history.sql';

/** A worker's request to claim retry `retryCount` of a task. */
export interface ClaimRequest {
  taskId: string;
  retryCount: number;
}

/** A claim won: its generation, and when it started (the group's time, on the worker's clock). */
export interface ClaimWon {
  attempt: number;
  startedAt: Date;
}

/**
 * A claim held back by its type's concurrency or rate limit (ADR 0015): the task is still
 * claimable; ask again after `limitedForMs`.
 */
export interface ClaimLimited {
  limitedForMs: number;
}

/** What a claim request gets: won, held back by a limit, or null — not claimable (never to run here). */
export type ClaimAnswer = ClaimWon | ClaimLimited | null;

/** Times a group claim is tried again after the database chose it as a deadlock victim. */
const CLAIM_DEADLOCK_RETRIES = 3;

/** A claim held by a worker: the task and the generation it claimed. */
export interface Claim {
  taskId: string;
  attempt: number;
}

/** The progress a running attempt's handler reported last. */
export interface ProgressReport {
  taskId: string;
  attempt: number;
  /** 0 to 100. */
  percent: number;
  message: string | null;
}

/**
 * Claims and leases: a worker claims a task (`pending → running`, a new generation and a lease on
 * the database clock), renews its leases, gives claims back; the reconciler hands back the tasks
 * whose lease expired; a poison message fails its pending task.
 */
@Injectable()
@DatabaseBoundary()
export class TaskClaimRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Claims retry `retryCount` of a task for a worker: `pending → running`, with a lease of
   * `leaseMs` on the database clock, and its `started` history row naming the worker. Returns the
   * claim's generation (`attempt`), or null when the task is unknown, cancelled, finished or
   * already claimed — so that a duplicated or redelivered message never runs a task twice.
   */
  async claim(
    taskId: string,
    retryCount: number,
    startedAt: Date,
    leaseMs: number,
    source: HistorySource = {},
  ): Promise<number | null> {
    const [won] = await this.claimGroupRetrying([{ taskId, retryCount }], leaseMs, source, startedAt, null);
    return won !== null && 'attempt' in won ? won.attempt : null;
  }

  /**
   * {@link claim} for several deliveries at once — in one transaction and one commit instead of
   * one per task. The rows are read and locked (`FOR UPDATE`, in `task_id` order like any other
   * claimer), the claimable ones decided by the same forward-only guard evaluated on the locked
   * rows, claimed with one `UPDATE` and their `started` rows appended with one `INSERT`. Answers,
   * per request in order, the claim won or null (not claimable: unknown, cancelled, finished,
   * already claimed, or a second copy of a task in the same group). A group chosen as a deadlock
   * victim is tried again.
   */
  claimMany(
    requests: readonly ClaimRequest[],
    leaseMs: number,
    source?: HistorySource,
  ): Promise<Array<ClaimWon | null>>;
  /**
   * With `limits` (ADR 0015), the type's limit row is locked first and only as many requests are
   * won as its concurrency and rate limits allow now; the other claimable ones are answered
   * {@link ClaimLimited}.
   */
  claimMany(
    requests: readonly ClaimRequest[],
    leaseMs: number,
    source: HistorySource,
    limits: TypeLimits | null,
  ): Promise<ClaimAnswer[]>;
  async claimMany(
    requests: readonly ClaimRequest[],
    leaseMs: number,
    source: HistorySource = {},
    limits: TypeLimits | null = null,
  ): Promise<ClaimAnswer[]> {
    return this.claimGroupRetrying(requests, leaseMs, source, new Date(), limits);
  }

  private claimGroupRetrying(
    requests: readonly ClaimRequest[],
    leaseMs: number,
    source: HistorySource,
    startedAt: Date,
    limits: TypeLimits | null,
  ): Promise<ClaimAnswer[]> {
    return retryWithBackoff(() => this.claimGroup(requests, leaseMs, source, startedAt, limits), {
      minDelayMs: 0,
      maxDelayMs: 0,
      maxAttempts: 1 + CLAIM_DEADLOCK_RETRIES,
      retryIf: isDeadlock,
    });
  }

  private claimGroup(
    requests: readonly ClaimRequest[],
    leaseMs: number,
    source: HistorySource,
    startedAt: Date,
    limits: TypeLimits | null,
  ): Promise<ClaimAnswer[]> {
    const ids = [...new Set(requests.map((request) => request.taskId))];
    return this.dataSource.transaction(async (manager) => {
      // A limited type's claims take its limit row first (always before the task rows: no deadlock).
      const allowance = limits === null ? null : await lockAllowance(manager, limits);
      const rows = (await manager.query(
        `SELECT task_id, status, attempt, retry_count, max_retries, run FROM ${TABLE}
          WHERE task_id IN (${placeholders(ids.length)}) FOR UPDATE`,
        ids,
      )) as Array<GuardedRow & { task_id: string; run: number }>;
      const locked = new Map(rows.map((row) => [row.task_id, row]));
      const won = new Map<string, ClaimWon & { retryCount: number; run: number }>();
      const limited: ClaimLimited = { limitedForMs: 0 };
      const answers = requests.map((request): ClaimAnswer => {
        const row = locked.get(request.taskId);
        if (
          row === undefined ||
          won.has(request.taskId) ||
          !movesForward(row, { retryCount: request.retryCount, status: TaskStatus.Running })
        ) {
          return null;
        }
        if (allowance !== null && won.size >= allowance.allowed) {
          return limited;
        }
        const claim = {
          attempt: Number(row.attempt) + 1,
          startedAt,
          retryCount: request.retryCount,
          run: Number(row.run),
        };
        won.set(request.taskId, claim);
        return { attempt: claim.attempt, startedAt };
      });
      if (won.size > 0) {
        const claims = [...won.entries()];
        const retryCounts = caseOf(
          claims.map(([taskId, claim]) => [taskId, claim.retryCount]),
          'retry_count',
        );
        // The rows are locked since the read: each changes exactly as decided.
        await manager.query(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ${retryCounts.sql}, started_at = ?,
             attempt = attempt + 1, lease_expires_at = ${LEASE_UNTIL}, progress = NULL, progress_message = NULL,
             dispatched_at = COALESCE(dispatched_at, UTC_TIMESTAMP(3))
           WHERE task_id IN (${placeholders(claims.length)})`,
          [...retryCounts.params, startedAt, leaseMs * 1000, ...claims.map(([taskId]) => taskId)],
        );
        await appendHistory(
          manager,
          claims.map(
            ([taskId, claim]): HistoryEntry => ({
              taskId,
              event: TaskHistoryEvent.Started,
              run: claim.run,
              attempt: claim.attempt,
              retryCount: claim.retryCount,
              workerId: source.workerId,
              occurredAt: startedAt,
            }),
          ),
        );
      }
      if (allowance !== null) {
        limited.limitedForMs = Math.max(1, await allowance.take(won.size));
      }
      return answers;
    });
  }

  /**
   * Writes the latest progress of running tasks, each under its claim (`(task_id, attempt)` of a
   * running row): one statement for all; a task finished, cancelled or handed back meanwhile is
   * left as it is. Returns how many rows took it.
   */
  async reportProgress(reports: readonly ProgressReport[]): Promise<number> {
    if (reports.length === 0) {
      return 0;
    }
    const percent = caseOf(
      reports.map((report) => [report.taskId, report.percent]),
      'progress',
    );
    const message = caseOf(
      reports.map((report) => [report.taskId, report.message]),
      'progress_message',
    );
    const result = await updateRows(
      this.dataSource,
      `UPDATE ${TABLE} SET progress = ${percent.sql}, progress_message = ${message.sql}
        WHERE status = '${TaskStatus.Running}' AND (task_id, attempt) IN (${placeholders(reports.length, '(?, ?)')})`,
      [...percent.params, ...message.params, ...reports.flatMap((report) => [report.taskId, report.attempt])],
    );
    return result.affectedRows;
  }

  /**
   * Extends the leases of claims a worker still runs. Returns the claims it no longer holds
   * (released, reclaimed after an expired lease, or finished): their handlers must stop.
   */
  async heartbeat(claims: readonly Claim[], leaseMs: number): Promise<Claim[]> {
    if (claims.length === 0) {
      return [];
    }
    const pairs = claims.flatMap((claim) => [claim.taskId, claim.attempt]);
    const inClaims = `(task_id, attempt) IN (${placeholders(claims.length, '(?, ?)')})`;
    const result = await updateRows(
      this.dataSource,
      `UPDATE ${TABLE} SET lease_expires_at = ${LEASE_UNTIL} WHERE status = '${TaskStatus.Running}' AND ${inClaims}`,
      [leaseMs * 1000, ...pairs],
    );
    if (result.affectedRows === claims.length) {
      return [];
    }
    const held = (await this.dataSource.query(
      `SELECT task_id, attempt FROM ${TABLE} WHERE status = '${TaskStatus.Running}' AND ${inClaims}`,
      pairs,
    )) as Array<{ task_id: string; attempt: number }>;
    const holding = new Set(held.map((row) => `${row.task_id}/${row.attempt}`));
    return claims.filter((claim) => !holding.has(`${claim.taskId}/${claim.attempt}`));
  }

  /**
   * Gives a claim back (`running → pending`, same retry) when its worker stops before finishing:
   * a new generation, back in the outbox so the relay publishes it again.
   */
  async releaseClaim(taskId: string, attempt: number, source: HistorySource = {}): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const result = await updateRows(
        manager,
        `UPDATE ${TABLE} SET ${HAND_BACK} WHERE task_id = ? AND status = '${TaskStatus.Running}' AND attempt = ?`,
        [taskId, attempt],
      );
      if (result.affectedRows !== 1) {
        return false;
      }
      await appendHistoryOfRows(
        manager,
        { event: TaskHistoryEvent.Released, workerId: source.workerId, occurredAt: new Date() },
        taskIdIn([taskId]),
      );
      return true;
    });
  }

  /**
   * The reconciler: tasks whose lease expired more than `graceMs` ago — their worker died or
   * lost the database — are handed back like a released claim (the crash does not count as a
   * retry). Returns the task ids reclaimed.
   */
  async reclaimExpired(graceMs: number, limit: number): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT task_id FROM ${TABLE}
          WHERE status = '${TaskStatus.Running}' AND lease_expires_at < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)
          ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))} FOR UPDATE SKIP LOCKED`,
        [graceMs * 1000],
      )) as Array<{ task_id: string }>;
      if (rows.length === 0) {
        return [];
      }
      const ids = rows.map((row) => row.task_id);
      await manager.query(
        `UPDATE ${TABLE} SET ${HAND_BACK} WHERE task_id IN (${placeholders(ids.length)}) AND status = '${TaskStatus.Running}'`,
        ids,
      );
      await appendHistoryOfRows(
        manager,
        {
          event: TaskHistoryEvent.LeaseReclaimed,
          message: `lease expired more than ${graceMs} ms ago: its worker stopped renewing it`,
          occurredAt: new Date(),
        },
        taskIdIn(ids),
      );
      return ids;
    });
  }

  /**
   * Ends a pending task whose message could not be processed at all (a poison message). A task
   * running under a valid claim is left alone: a malformed copy must not fail a good attempt.
   */
  async failUnprocessable(taskId: string, reason: string, at: Date, source: HistorySource = {}): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const result = await updateRows(
        manager,
        `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', error_message = ?, completed_at = ?
         WHERE task_id = ? AND status = '${TaskStatus.Pending}'`,
        [reason, at, taskId],
      );
      if (result.affectedRows !== 1) {
        return false;
      }
      await appendHistoryOfRows(
        manager,
        { event: TaskHistoryEvent.Failed, workerId: source.workerId, message: reason, occurredAt: at },
        taskIdIn([taskId]),
      );
      return true;
    });
  }
}
