import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DatabaseBoundary } from '../database/database-errors';

export const TRACKER_REPLICAS_TABLE = 'tracker_replicas';

/** `now − ? microseconds` on the database clock. */
const AGO = 'DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)';

/**
 * The status trackers running, as they report themselves (ADR 0010): each renews its row every
 * second with `settled_at`, the instant (database clock) up to which everything it had received
 * from its queue is written. The lease reconciler reads it to know that no tracker still holds
 * an outcome that should decide a task.
 */
@Injectable()
@DatabaseBoundary()
export class TrackerReplicaRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** The database clock, the one every lease and report is compared on. */
  async now(): Promise<Date> {
    const [row] = (await this.dataSource.query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>;
    return row.now;
  }

  /**
   * Renews a replica's row: it is alive, and everything it received more than `unsettledForMs`
   * ago is written (0 when it holds nothing unwritten).
   */
  async report(replicaId: string, unsettledForMs: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO ${TRACKER_REPLICAS_TABLE} (replica_id, settled_at, heartbeat_at)
       VALUES (?, ${AGO}, UTC_TIMESTAMP(3))
       ON DUPLICATE KEY UPDATE settled_at = VALUES(settled_at), heartbeat_at = VALUES(heartbeat_at)`,
      [replicaId, Math.max(0, Math.floor(unsettledForMs * 1000))],
    );
  }

  /** A replica stopping: it wrote or handed back everything it had. */
  async remove(replicaId: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM ${TRACKER_REPLICAS_TABLE} WHERE replica_id = ?`, [replicaId]);
  }

  /**
   * How many live replicas (renewed within `liveWithinMs`) have not yet reported everything they
   * received up to `at` as written.
   */
  async unsettledAt(at: Date, liveWithinMs: number): Promise<number> {
    const [row] = (await this.dataSource.query(
      `SELECT COUNT(*) AS n FROM ${TRACKER_REPLICAS_TABLE} WHERE heartbeat_at > ${AGO} AND settled_at < ?`,
      [Math.floor(liveWithinMs * 1000), at],
    )) as Array<{ n: string | number }>;
    return Number(row.n);
  }

  /** Forgets replicas that have not renewed their row for `deadForMs` (killed ones). */
  async prune(deadForMs: number): Promise<number> {
    const result = (await this.dataSource.query(`DELETE FROM ${TRACKER_REPLICAS_TABLE} WHERE heartbeat_at < ${AGO}`, [
      Math.floor(deadForMs * 1000),
    ])) as { affectedRows: number };
    return result.affectedRows;
  }
}
