import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { SchedulePage, ScheduleResource, ValidSchedule, nextTick, validateSchedulePatch } from '@tasklane/contracts';
import { ScheduleNameTaken, ScheduleWrite, StoredSchedule, TaskScheduleRepository } from '@tasklane/persistence';
import { invalidRequest } from '../http/api-errors';
import { toScheduleBody, toScheduleResource } from './schedule-resource.mapper';

function notFound(scheduleId: string): NotFoundException {
  return new NotFoundException({ statusCode: 404, error: 'Not Found', message: `Schedule ${scheduleId} not found` });
}

function nameTaken(error: ScheduleNameTaken): ConflictException {
  return new ConflictException({ statusCode: 409, error: 'Conflict', message: error.message, field: 'name' });
}

/**
 * When a schedule fires next: its first tick after now when it is enabled and was paused or had
 * its timing changed; the tick it was waiting for otherwise; never while paused.
 */
export function nextRunAfterChange(current: StoredSchedule | null, next: ValidSchedule, now: Date): Date | null {
  if (!next.enabled) {
    return null;
  }
  const unchanged =
    current !== null &&
    current.enabled &&
    current.nextRunAt !== null &&
    current.cron === next.cron &&
    current.timezone === next.timezone;
  return unchanged ? current.nextRunAt : nextTick(next, now);
}

/** The schedules API (ADR 0013): the gateway writes `task_schedules`; the trackers' scheduler fires them. */
@Injectable()
export class SchedulesService {
  private readonly logger = new Logger(SchedulesService.name);

  constructor(@Inject(TaskScheduleRepository) private readonly schedules: TaskScheduleRepository) {}

  async create(schedule: ValidSchedule, actor: string): Promise<ScheduleResource> {
    const now = new Date();
    const write: ScheduleWrite = { schedule, nextRunAt: nextRunAfterChange(null, schedule, now) };
    const created = await this.conflictsAsHttp(() => this.schedules.create(write, actor, now));
    this.logger.log({
      message: 'schedule created',
      schedule_id: created.scheduleId,
      schedule: created.name,
      actor,
      next_run_at: created.nextRunAt?.toISOString() ?? null,
    });
    return toScheduleResource(created);
  }

  async list(limit: number, cursor: string | null): Promise<SchedulePage> {
    // One more than asked: whether a next page exists, without counting.
    const rows = await this.schedules.list(limit + 1, cursor);
    const items = rows.slice(0, limit).map(toScheduleResource);
    return { items, next_cursor: rows.length > limit ? items[items.length - 1].name : null };
  }

  async get(scheduleId: string): Promise<ScheduleResource> {
    const schedule = await this.schedules.get(scheduleId);
    if (schedule === null) {
      throw notFound(scheduleId);
    }
    return toScheduleResource(schedule);
  }

  /** Applies a PATCH: merged over the schedule as it is, validated whole; nothing changes on a 4xx. */
  async update(scheduleId: string, patch: unknown, actor: string): Promise<ScheduleResource> {
    const now = new Date();
    const updated = await this.conflictsAsHttp(() =>
      this.schedules.update(
        scheduleId,
        (current) => {
          const validated = validateSchedulePatch(toScheduleBody(current), patch);
          if (!validated.ok) {
            throw invalidRequest(validated.errors);
          }
          return { schedule: validated.value, nextRunAt: nextRunAfterChange(current, validated.value, now) };
        },
        now,
      ),
    );
    if (updated === null) {
      throw notFound(scheduleId);
    }
    this.logger.log({
      message: updated.enabled ? 'schedule changed' : 'schedule changed (paused)',
      schedule_id: scheduleId,
      schedule: updated.name,
      actor,
      next_run_at: updated.nextRunAt?.toISOString() ?? null,
    });
    return toScheduleResource(updated);
  }

  async delete(scheduleId: string, actor: string): Promise<void> {
    if (!(await this.schedules.delete(scheduleId))) {
      throw notFound(scheduleId);
    }
    this.logger.log({ message: 'schedule deleted', schedule_id: scheduleId, actor });
  }

  private async conflictsAsHttp<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      throw error instanceof ScheduleNameTaken ? nameTaken(error) : error;
    }
  }
}
