/** The schedules (migration 011): one row per cron schedule, its next tick claimed by the scheduler. */
export const SCHEDULES_TABLE = 'task_schedules';
