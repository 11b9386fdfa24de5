import { MigrationInterface, QueryRunner } from 'typeorm';
import { TASK_EVENTS_TABLE } from '../task-history/task-history.sql';

/**
 * The events this migration allows, as they were when it was written (a migration never changes
 * with the code: a later one widens the list, e.g. 013).
 */
export const HISTORY_EVENTS_009 = [
  'enqueued',
  'started',
  'retrying',
  'succeeded',
  'failed',
  'cancelled',
  'retried',
  'released',
  'lease_reclaimed',
  'redispatched',
] as const;

export function historyEventCheck(events: readonly string[]): string {
  return `CONSTRAINT chk_background_task_events_event CHECK (event IN (${events.map((event) => `'${event}'`).join(', ')}))`;
}

/**
 * 009_add_task_events — a task's history (issue #12): one row per transition (enqueued, started
 * by a worker, retrying, succeeded, failed, cancelled or retried by whom, released, lease
 * reclaimed, re-dispatched), appended in the transaction that makes the transition. Read by task,
 * oldest first, through `(task_id, id)`; deleted with its task by `cleanup.purge_tasks`. No
 * foreign key: the writes to `background_tasks` stay as they are (no parent-row locks taken by
 * each history insert), and retention deletes both in one transaction.
 */
export class AddTaskEvents009 implements MigrationInterface {
  readonly name = 'AddTaskEvents0000000000009';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE ${TASK_EVENTS_TABLE} (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        task_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        event VARCHAR(24) NOT NULL,
        run INT UNSIGNED NOT NULL,
        attempt INT UNSIGNED NOT NULL,
        retry_count TINYINT UNSIGNED NOT NULL,
        worker_id VARCHAR(128) NULL,
        actor VARCHAR(80) NULL,
        message TEXT NULL,
        occurred_at DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        KEY idx_background_task_events_task (task_id, id),
        ${historyEventCheck(HISTORY_EVENTS_009)}
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${TASK_EVENTS_TABLE}`);
  }
}
