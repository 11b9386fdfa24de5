import { AddBackgroundTasksTable002 } from './002_add_background_tasks_table';

/** Every migration, in order. A new migration is appended here. */
export const MIGRATIONS = [AddBackgroundTasksTable002];
