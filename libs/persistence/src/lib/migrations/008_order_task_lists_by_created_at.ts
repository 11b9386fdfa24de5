import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * 008_order_task_lists_by_created_at — `GET /api/tasks/` is newest first by `created_at`, the
 * field clients see (issue #14). `created_at` is set by the gateway that accepted the task; under
 * concurrent enqueues (several requests, several replicas) the row ids do not follow it, so a
 * list in id order showed a task 1 ms newer below an older one. The list now reads
 * `ORDER BY created_at DESC, id DESC` (a cursor is the pair), off an index per filter that InnoDB
 * makes `(…, created_at, id)` by appending the primary key:
 * - no filter: `idx_background_tasks_created_at` — already there (002);
 * - status: `(status)` becomes `(status, created_at)` — any query of `(status)` is served by it;
 * - task_type: 005's `(task_type, id)`, there for the list alone, becomes `(task_type, created_at)`;
 * - task_type and status: `(task_type, status, created_at)` added — `(task_type, status)` stays,
 *   the re-dispatch pass walks it in id order (ADR 0010).
 * One index more for every insert to maintain than before. Built online (no table lock), for
 * MariaDB ≥ 10.6 and MySQL ≥ 8.0.
 */
export class OrderTaskListsByCreatedAt008 implements MigrationInterface {
  readonly name = 'OrderTaskListsByCreatedAt0000000000008';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE background_tasks
        ADD KEY idx_background_tasks_status_created_at (status, created_at),
        ADD KEY idx_background_tasks_task_type_created_at (task_type, created_at),
        ADD KEY idx_background_tasks_task_type_status_created_at (task_type, status, created_at),
        DROP KEY idx_background_tasks_status,
        DROP KEY idx_background_tasks_task_type_id,
        ALGORITHM = INPLACE, LOCK = NONE`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE background_tasks
        ADD KEY idx_background_tasks_status (status),
        ADD KEY idx_background_tasks_task_type_id (task_type, id),
        DROP KEY idx_background_tasks_status_created_at,
        DROP KEY idx_background_tasks_task_type_created_at,
        DROP KEY idx_background_tasks_task_type_status_created_at,
        ALGORITHM = INPLACE, LOCK = NONE`,
    );
  }
}
