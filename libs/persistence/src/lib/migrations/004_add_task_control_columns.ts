import { MigrationInterface, QueryRunner } from 'typeorm';
import { TASK_STATUSES } from '@tasklane/contracts';

const statuses = TASK_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * 004_add_task_control_columns — task control (ADR 0006):
 * - `timeout_ms`: how long one attempt may run (NULL for older rows: the catalogue default);
 * - `run`: 1 for the first run, +1 each time POST /retry re-queues a failed or cancelled task;
 * - `background_task_runs`: each earlier run as it ended, archived by POST /retry, so that a
 *   re-run never overwrites a result or an error silently.
 */
export class AddTaskControlColumns004 implements MigrationInterface {
  readonly name = 'AddTaskControlColumns0000000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD COLUMN timeout_ms INT UNSIGNED NULL AFTER max_retries,
        ADD COLUMN run INT UNSIGNED NOT NULL DEFAULT 1 AFTER attempt
    `);
    await queryRunner.query(`
      CREATE TABLE background_task_runs (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        task_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        run INT UNSIGNED NOT NULL,
        status VARCHAR(16) NOT NULL,
        retry_count TINYINT UNSIGNED NOT NULL,
        result JSON NULL,
        error_message TEXT NULL,
        started_at DATETIME(3) NULL,
        completed_at DATETIME(3) NULL,
        archived_at DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_background_task_runs_task_run (task_id, run),
        CONSTRAINT chk_background_task_runs_status CHECK (status IN (${statuses}))
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE background_task_runs');
    await queryRunner.query('ALTER TABLE background_tasks DROP COLUMN run, DROP COLUMN timeout_ms');
  }
}
