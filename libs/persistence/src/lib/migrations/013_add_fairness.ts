import { MigrationInterface, QueryRunner } from 'typeorm';
import { TASK_TYPE_LIMITS_TABLE } from '../fairness/task-type-limit.sql';
import { TASK_EVENTS_TABLE } from '../task-history/task-history.sql';
import { HISTORY_EVENTS_009, historyEventCheck } from './009_add_task_events';

/**
 * 013_add_fairness (issue #13, ADR 0015):
 * - `(task_type, status, priority, dispatched_at)`: the tracker's aging pass reads the pending
 *   tasks below the top priority whose command has been out longer than the aging bound — one
 *   short range per priority, however deep the priority-10 backlog ahead of them is;
 * - history event `aged` (the command published again above every priority): the CHECK on
 *   `background_task_events.event` is dropped (in place, no lock) rather than widened — adding a CHECK
 *   copies the whole table under a lock that blocks every transition's history insert, once per
 *   new event kind; the column is written only through `TaskHistoryEvent`;
 * - `task_type_limits`: one row per task type with a concurrency or rate limit, locked by the
 *   claims of that type — the token bucket of its rate limit lives here, shared by every replica.
 */
export class AddFairness013 implements MigrationInterface {
  readonly name = 'AddFairness0000000000013';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE background_tasks
        ADD KEY idx_background_tasks_task_type_status_priority_dispatched (task_type, status, priority, dispatched_at),
        ALGORITHM = INPLACE, LOCK = NONE
    `);
    await queryRunner.query(
      `ALTER TABLE ${TASK_EVENTS_TABLE} DROP CONSTRAINT chk_background_task_events_event, ALGORITHM = INPLACE, LOCK = NONE`,
    );
    await queryRunner.query(`
      CREATE TABLE ${TASK_TYPE_LIMITS_TABLE} (
        task_type VARCHAR(32) NOT NULL,
        tokens DOUBLE NOT NULL,
        refilled_at DATETIME(6) NOT NULL,
        PRIMARY KEY (task_type)
      ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${TASK_TYPE_LIMITS_TABLE}`);
    // Back to 009's CHECK (a table copy: a down migration is an exception), without what it refuses.
    await queryRunner.query(
      `DELETE FROM ${TASK_EVENTS_TABLE} WHERE event NOT IN (${HISTORY_EVENTS_009.map((event) => `'${event}'`).join(', ')})`,
    );
    await queryRunner.query(`
      ALTER TABLE ${TASK_EVENTS_TABLE} ADD ${historyEventCheck(HISTORY_EVENTS_009)}
    `);
    await queryRunner.query(`
      ALTER TABLE background_tasks
        DROP KEY idx_background_tasks_task_type_status_priority_dispatched,
        ALGORITHM = INPLACE, LOCK = NONE
    `);
  }
}
