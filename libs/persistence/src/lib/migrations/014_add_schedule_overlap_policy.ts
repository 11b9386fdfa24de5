import { MigrationInterface, QueryRunner } from 'typeorm';
import { SCHEDULES_TABLE } from '../schedules/task-schedule.sql';

/**
 * 014_add_schedule_overlap_policy (ADR 0013): `task_schedules.overlap_policy` — `allow` (every
 * existing schedule: as before) or `skip` (no task for a tick while the previous tick's task is
 * pending or running). `task_schedules` holds one row per schedule: the CHECK's table copy is
 * a few rows.
 */
export class AddScheduleOverlapPolicy014 implements MigrationInterface {
  readonly name = 'AddScheduleOverlapPolicy0000000000014';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE ${SCHEDULES_TABLE}
        ADD COLUMN overlap_policy VARCHAR(16) NOT NULL DEFAULT 'allow' AFTER missed_policy,
        ADD CONSTRAINT chk_task_schedules_overlap_policy CHECK (overlap_policy IN ('allow', 'skip'))
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE ${SCHEDULES_TABLE} DROP CONSTRAINT chk_task_schedules_overlap_policy, DROP COLUMN overlap_policy
    `);
  }
}
