import { MigrationInterface, QueryRunner } from 'typeorm';
import { TaskStatus } from '@tasklane/contracts';

/**
 * 003_add_task_delivery_columns — what the delivery guarantees need (ADR 0005):
 * - `attempt`: a generation counter bumped by every claim, release and reclaim; events carry it
 *   as a fencing token, so a worker that lost its claim can no longer change the task.
 * - `lease_expires_at`: until when the claiming worker is known to be alive (heartbeats extend it);
 *   an expired lease means the task is handed to another worker.
 * - `dispatched_at`: when the broker confirmed the task's command; NULL rows are the outbox,
 *   (re)published by the relay. Rows that exist already were published synchronously; rows
 *   running already get an expired lease.
 */
export class AddTaskDeliveryColumns003 implements MigrationInterface {
  readonly name = 'AddTaskDeliveryColumns0000000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD COLUMN attempt INT UNSIGNED NOT NULL DEFAULT 0 AFTER max_retries,
        ADD COLUMN lease_expires_at DATETIME(3) NULL AFTER completed_at,
        ADD COLUMN dispatched_at DATETIME(3) NULL AFTER lease_expires_at,
        ADD KEY idx_background_tasks_dispatched_at (dispatched_at),
        ADD KEY idx_background_tasks_status_lease (status, lease_expires_at)
    `);
    await queryRunner.query('UPDATE background_tasks SET dispatched_at = created_at');
    // Tasks running under the old code have no lease: give them an expired one, so that the
    // reconciler hands them back unless a worker renews them (stop old workers before migrating).
    await queryRunner.query(
      `UPDATE background_tasks SET lease_expires_at = UTC_TIMESTAMP(3) WHERE status = '${TaskStatus.Running}'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks
        DROP KEY idx_background_tasks_status_lease,
        DROP KEY idx_background_tasks_dispatched_at,
        DROP COLUMN dispatched_at,
        DROP COLUMN lease_expires_at,
        DROP COLUMN attempt
    `);
  }
}
