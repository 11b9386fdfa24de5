import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * 012_add_task_progress (issue #13, ADR 0014): the progress a running task's handler reports
 * (`context.progress(percent, message)`), written by its worker under its claim, at most a few
 * times a second (coalesced), and cleared when a new attempt starts. Nullable columns: added in
 * place, without copying the table.
 */
export class AddTaskProgress012 implements MigrationInterface {
  readonly name = 'AddTaskProgress0000000000012';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD COLUMN progress TINYINT UNSIGNED NULL AFTER run_at,
        ADD COLUMN progress_message VARCHAR(255) NULL AFTER progress,
        ALGORITHM = INPLACE, LOCK = NONE
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks DROP COLUMN progress_message, DROP COLUMN progress,
        ALGORITHM = INPLACE, LOCK = NONE
    `);
  }
}
