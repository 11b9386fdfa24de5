import { AddBackgroundTasksTable002 } from './002_add_background_tasks_table';
import { AddTaskDeliveryColumns003 } from './003_add_task_delivery_columns';
import { AddTaskControlColumns004 } from './004_add_task_control_columns';
import { AddTaskListIndexes005 } from './005_add_task_list_indexes';
import { AddTaskCounts006 } from './006_add_task_counts';
import { AddRedispatchColumns007 } from './007_add_redispatch_columns';
import { OrderTaskListsByCreatedAt008 } from './008_order_task_lists_by_created_at';
import { AddTaskEvents009 } from './009_add_task_events';
import { AddDelayedTasksAndIdempotencyKeys010 } from './010_add_delayed_tasks_and_idempotency_keys';
import { AddTaskSchedules011 } from './011_add_task_schedules';
import { AddTaskProgress012 } from './012_add_task_progress';
import { AddFairness013 } from './013_add_fairness';
import { AddScheduleOverlapPolicy014 } from './014_add_schedule_overlap_policy';

/** Every migration, in order. A new migration is appended here. */
export const MIGRATIONS = [
  AddBackgroundTasksTable002,
  AddTaskDeliveryColumns003,
  AddTaskControlColumns004,
  AddTaskListIndexes005,
  AddTaskCounts006,
  AddRedispatchColumns007,
  OrderTaskListsByCreatedAt008,
  AddTaskEvents009,
  AddDelayedTasksAndIdempotencyKeys010,
  AddTaskSchedules011,
  AddTaskProgress012,
  AddFairness013,
  AddScheduleOverlapPolicy014,
];
