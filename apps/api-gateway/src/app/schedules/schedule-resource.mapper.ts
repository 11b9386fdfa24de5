import { ScheduleBody, ScheduleResource } from '@tasklane/contracts';
import { StoredSchedule } from '@tasklane/persistence';

const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());

/** A stored schedule as a complete request body, for a PATCH to be merged into. */
export function toScheduleBody(schedule: StoredSchedule): ScheduleBody {
  return {
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    missed: schedule.missed,
    overlap: schedule.overlap,
    enabled: schedule.enabled,
    ...schedule.task,
  };
}

export function toScheduleResource(schedule: StoredSchedule): ScheduleResource {
  return {
    schedule_id: schedule.scheduleId,
    ...toScheduleBody(schedule),
    next_run_at: iso(schedule.nextRunAt),
    last_run_at: iso(schedule.lastRunAt),
    last_task_id: schedule.lastTaskId,
    created_at: schedule.createdAt.toISOString(),
    updated_at: schedule.updatedAt.toISOString(),
  };
}
