import { MigrationInterface, QueryRunner } from 'typeorm';
import { IDEMPOTENCY_KEYS_TABLE } from '../idempotency/idempotency-key.sql';

/**
 * 010_add_delayed_tasks_and_idempotency_keys (issue #13, ADR 0012):
 * - `background_tasks.run_at`: when the enqueue asked the task to start (shown in the resource).
 *   A task due later is inserted with `due_at` = `run_at` and no command: the database is the
 *   schedule, and the tracker's due relay publishes it once due.
 * - `(dispatched_at, due_at)` replaces `(dispatched_at)`: the outbox relay reads the undispatched
 *   tasks due now (`due_at IS NULL`, by id) and the due relay those whose time came (by `due_at`),
 *   neither scanning the tasks scheduled later, however many there are.
 * - `(task_type, status, dispatched_at)`: re-dispatch reads only the pending tasks whose command
 *   went out, by when it did — not the ones still waiting for their time.
 * - `task_idempotency_keys`: one row per (caller, key) — the request's fingerprint and the task
 *   it created, until `expires_at`. Written in the enqueue's transaction; its primary key makes
 *   concurrent duplicates wait for the first and then find its task.
 */
export class AddDelayedTasksAndIdempotencyKeys010 implements MigrationInterface {
  readonly name = 'AddDelayedTasksAndIdempotencyKeys0000000000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE background_tasks ADD COLUMN run_at DATETIME(3) NULL AFTER due_at');
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD KEY idx_background_tasks_dispatched_due (dispatched_at, due_at),
        ADD KEY idx_background_tasks_task_type_status_dispatched (task_type, status, dispatched_at),
        DROP KEY idx_background_tasks_dispatched_at,
        ALGORITHM = INPLACE, LOCK = NONE
    `);
    await queryRunner.query(`
      CREATE TABLE ${IDEMPOTENCY_KEYS_TABLE} (
        scope VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        request_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        task_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        created_at DATETIME(3) NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        PRIMARY KEY (scope, idempotency_key),
        KEY idx_task_idempotency_keys_expires_at (expires_at),
        KEY idx_task_idempotency_keys_task_id (task_id)
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${IDEMPOTENCY_KEYS_TABLE}`);
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD KEY idx_background_tasks_dispatched_at (dispatched_at),
        DROP KEY idx_background_tasks_task_type_status_dispatched,
        DROP KEY idx_background_tasks_dispatched_due,
        ALGORITHM = INPLACE, LOCK = NONE
    `);
    await queryRunner.query('ALTER TABLE background_tasks DROP COLUMN run_at');
  }
}
