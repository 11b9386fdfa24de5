import { MigrationInterface, QueryRunner } from 'typeorm';
import {
  DEFAULT_RETENTION_SCHEDULE,
  SCHEDULE_MISSED_POLICIES,
  ScheduleMissedPolicy,
  TaskName,
  TaskPriority,
  TaskRetries,
  TaskType,
  newTaskId,
  nextTick,
  taskDefinition,
} from '@tasklane/contracts';
import { SCHEDULES_TABLE } from '../schedules/task-schedule.sql';

/**
 * 011_add_task_schedules (issue #13, ADR 0013):
 * - `task_schedules`: a cron expression read in a time zone, the task each tick enqueues, the
 *   missed-tick policy, and `next_run_at` — the tick the scheduler claims next (NULL: paused). A
 *   tick fires when a scheduler moves `next_run_at` past it in the same transaction as it inserts
 *   the tick's task: exactly once, whatever the number of schedulers and restarts.
 * - The cleanup retention job becomes a schedule every database starts with
 *   (`cleanup-retention`, daily at 03:00 UTC, `cleanup.purge_tasks` with the worker's default
 *   retention), which an operator can change, pause or delete like any other.
 */
export class AddTaskSchedules011 implements MigrationInterface {
  readonly name = 'AddTaskSchedules0000000000011';

  async up(queryRunner: QueryRunner): Promise<void> {
    const policies = SCHEDULE_MISSED_POLICIES.map((policy) => `'${policy}'`).join(', ');
    await queryRunner.query(`
      CREATE TABLE ${SCHEDULES_TABLE} (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        schedule_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
        cron VARCHAR(120) NOT NULL,
        timezone VARCHAR(64) NOT NULL,
        missed_policy VARCHAR(16) NOT NULL,
        enabled TINYINT(1) NOT NULL,
        task_name VARCHAR(100) NOT NULL,
        task_type VARCHAR(32) NOT NULL,
        params JSON NOT NULL,
        priority TINYINT UNSIGNED NOT NULL,
        max_retries TINYINT UNSIGNED NOT NULL,
        timeout_ms INT UNSIGNED NOT NULL,
        next_run_at DATETIME(3) NULL,
        last_run_at DATETIME(3) NULL,
        last_task_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
        created_by VARCHAR(80) NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_task_schedules_schedule_id (schedule_id),
        UNIQUE KEY uq_task_schedules_name (name),
        KEY idx_task_schedules_next_run_at (next_run_at),
        CONSTRAINT chk_task_schedules_missed_policy CHECK (missed_policy IN (${policies})),
        CONSTRAINT chk_task_schedules_priority CHECK (priority BETWEEN ${TaskPriority.Min} AND ${TaskPriority.Max}),
        CONSTRAINT chk_task_schedules_retries CHECK (max_retries <= ${TaskRetries.Max})
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
    const now = new Date();
    const task = TaskName.CleanupPurgeTasks;
    const definition = taskDefinition(task);
    await queryRunner.query(
      `INSERT INTO ${SCHEDULES_TABLE}
        (schedule_id, name, cron, timezone, missed_policy, enabled, task_name, task_type, params, priority,
         max_retries, timeout_ms, next_run_at, created_by, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, 1, ?, ?, '{}', ?, ?, ?, ?, 'migration', ?, ?)`,
      [
        newTaskId(now.getTime()),
        DEFAULT_RETENTION_SCHEDULE.name,
        DEFAULT_RETENTION_SCHEDULE.cron,
        DEFAULT_RETENTION_SCHEDULE.timezone,
        ScheduleMissedPolicy.FireOnce,
        task,
        TaskType.Cleanup,
        TaskPriority.Default,
        TaskRetries.Default,
        definition.defaultTimeoutMs,
        nextTick(DEFAULT_RETENTION_SCHEDULE, now),
        now,
        now,
      ],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${SCHEDULES_TABLE}`);
  }
}
