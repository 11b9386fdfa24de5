import { MigrationInterface, QueryRunner } from 'typeorm';
import { TRACKER_REPLICAS_TABLE } from '../tracker-replicas/tracker-replica.repository';

/**
 * 007_add_redispatch_columns — the database stays the authority when the broker loses messages
 * (issue #11, ADR 0010):
 * - `background_tasks.due_at`: when a pending task's command is due in its queue — for a retry,
 *   the end of its delay (its message waits in a delay queue until then); NULL means as soon as it
 *   is dispatched. A pending, dispatched and due task whose queue holds nothing is re-dispatched.
 * - `tracker_replicas`: one row per running status tracker, renewed every second: until when
 *   everything it had received is written (`settled_at`). The lease reconciler hands a task back
 *   only once every live tracker has written what it received, however many run.
 * Adding a nullable column is an in-place (instant) change on MariaDB ≥ 10.3 and MySQL ≥ 8.0.
 */
export class AddRedispatchColumns007 implements MigrationInterface {
  readonly name = 'AddRedispatchColumns0000000000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE background_tasks ADD COLUMN due_at DATETIME(3) NULL AFTER dispatched_at');
    await queryRunner.query(`
      CREATE TABLE ${TRACKER_REPLICAS_TABLE} (
        replica_id CHAR(36) NOT NULL,
        settled_at DATETIME(3) NOT NULL,
        heartbeat_at DATETIME(3) NOT NULL,
        PRIMARY KEY (replica_id)
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${TRACKER_REPLICAS_TABLE}`);
    await queryRunner.query('ALTER TABLE background_tasks DROP COLUMN due_at');
  }
}
