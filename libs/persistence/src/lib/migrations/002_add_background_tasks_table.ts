import { MigrationInterface, QueryRunner } from 'typeorm';
import { TASK_STATUSES, TaskPriority, TaskRetries, TaskStatus } from '@tasklane/contracts';

const statuses = TASK_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * 002_add_background_tasks_table — the table of the original design, for MariaDB ≥ 10.6 and
 * MySQL ≥ 8.0.16. Timestamps are DATETIME(3) holding UTC; status is a VARCHAR with a CHECK
 * (not an ENUM) so that adding a status is a cheap constraint change. The trailing number of
 * `name` is the ordering key TypeORM requires.
 */
export class AddBackgroundTasksTable002 implements MigrationInterface {
  readonly name = 'AddBackgroundTasksTable0000000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE background_tasks (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        task_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        task_name VARCHAR(100) NOT NULL,
        task_type VARCHAR(32) NOT NULL,
        priority TINYINT UNSIGNED NOT NULL DEFAULT ${TaskPriority.Default},
        status VARCHAR(16) NOT NULL DEFAULT '${TaskStatus.Pending}',
        params JSON NULL,
        result JSON NULL,
        error_message TEXT NULL,
        retry_count TINYINT UNSIGNED NOT NULL DEFAULT 0,
        max_retries TINYINT UNSIGNED NOT NULL DEFAULT ${TaskRetries.Default},
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        started_at DATETIME(3) NULL,
        completed_at DATETIME(3) NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_background_tasks_task_id (task_id),
        KEY idx_background_tasks_status (status),
        KEY idx_background_tasks_priority (priority),
        KEY idx_background_tasks_status_priority (status, priority),
        KEY idx_background_tasks_task_type_status (task_type, status),
        KEY idx_background_tasks_created_at (created_at),
        KEY idx_background_tasks_status_completed_at (status, completed_at),
        CONSTRAINT chk_background_tasks_priority
          CHECK (priority BETWEEN ${TaskPriority.Min} AND ${TaskPriority.Max}),
        CONSTRAINT chk_background_tasks_status CHECK (status IN (${statuses})),
        CONSTRAINT chk_background_tasks_retries
          CHECK (max_retries <= ${TaskRetries.Max} AND retry_count <= max_retries)
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE background_tasks');
  }
}
