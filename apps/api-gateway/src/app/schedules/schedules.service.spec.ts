import { ScheduleMissedPolicy, ScheduleOverlapPolicy, TaskName, TaskType, ValidSchedule } from '@tasklane/contracts';
import { StoredSchedule } from '@tasklane/persistence';
import { nextRunAfterChange } from './schedules.service';

const now = new Date('2026-12-07T11:20:30.000Z');
const waitingFor = new Date('2026-12-08T03:00:00.000Z');

const valid: ValidSchedule = {
  name: 'nightly',
  cron: '0 3 * * *',
  timezone: 'UTC',
  missed: ScheduleMissedPolicy.FireOnce,
  overlap: ScheduleOverlapPolicy.Allow,
  enabled: true,
  task: {
    task_name: TaskName.CleanupPurgeTasks,
    task_type: TaskType.Cleanup,
    params: {},
    priority: 5,
    max_retries: 3,
    timeout_ms: 600_000,
  },
};

const stored = (overrides: Partial<StoredSchedule> = {}): StoredSchedule => ({
  scheduleId: '0190a0b0-0000-7000-8000-000000000001',
  name: valid.name,
  cron: valid.cron,
  timezone: valid.timezone,
  missed: valid.missed,
  overlap: valid.overlap,
  enabled: true,
  task: valid.task,
  nextRunAt: waitingFor,
  lastRunAt: null,
  lastTaskId: null,
  createdBy: null,
  createdAt: now,
  updatedAt: now,
  ...overrides,
});

describe('nextRunAfterChange', () => {
  it('a new schedule fires at its first tick after now; a paused one never', () => {
    expect(nextRunAfterChange(null, valid, now)).toEqual(new Date('2026-12-08T03:00:00.000Z'));
    expect(nextRunAfterChange(null, { ...valid, enabled: false }, now)).toBeNull();
  });

  it('a change that keeps the timing keeps the tick it was waiting for', () => {
    const current = stored({ nextRunAt: new Date('2026-12-07T11:20:29.000Z') });
    expect(nextRunAfterChange(current, { ...valid, task: { ...valid.task, priority: 9 } }, now)).toEqual(
      current.nextRunAt,
    );
  });

  it('a new cron or time zone starts from its first tick after now', () => {
    expect(nextRunAfterChange(stored(), { ...valid, cron: '30 11 * * *' }, now)).toEqual(
      new Date('2026-12-07T11:30:00.000Z'),
    );
    expect(nextRunAfterChange(stored(), { ...valid, timezone: 'Asia/Tokyo' }, now)).toEqual(
      new Date('2026-12-07T18:00:00.000Z'),
    );
  });

  it('pausing clears the next tick; resuming starts after now, without making up the paused ticks', () => {
    expect(nextRunAfterChange(stored(), { ...valid, enabled: false }, now)).toBeNull();
    const paused = stored({ enabled: false, nextRunAt: null });
    expect(nextRunAfterChange(paused, valid, now)).toEqual(new Date('2026-12-08T03:00:00.000Z'));
  });
});
