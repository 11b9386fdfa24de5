import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * 005_add_task_list_indexes — listing stays an index range scan in `id` order at any table size
 * (issue #6). `GET /api/tasks/` reads `WHERE <filter> [AND id < ?] ORDER BY id DESC LIMIT n`;
 * InnoDB appends the primary key to every secondary index, so:
 * - status only: `idx_background_tasks_status` is in effect (status, id) — already there;
 * - task_type and status: `idx_background_tasks_task_type_status` is (task_type, status, id) — already there;
 * - task_type only: (task_type, status) is not in id order for one task_type (a filesort of every
 *   task of that type), hence (task_type, id), added here.
 * Built online (no table lock), for MariaDB ≥ 10.6 and MySQL ≥ 8.0.
 */
export class AddTaskListIndexes005 implements MigrationInterface {
  readonly name = 'AddTaskListIndexes0000000000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE background_tasks ADD KEY idx_background_tasks_task_type_id (task_type, id), ALGORITHM = INPLACE, LOCK = NONE',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE background_tasks DROP KEY idx_background_tasks_task_type_id, ALGORITHM = INPLACE, LOCK = NONE',
    );
  }
}
