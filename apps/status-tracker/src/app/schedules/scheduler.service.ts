import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskMetrics } from '@tasklane/observability';
import { ScheduleFiring, TaskScheduleRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from '../maintenance/periodic.service';

/** Schedules claimed per transaction, and ticks enqueued per schedule per pass. */
const SCHEDULES_PER_PASS = 100;
const TICKS_PER_SCHEDULE = 100;

/**
 * The cron scheduler (ADR 0013): every SCHEDULER_INTERVAL_MS, enqueues the task of each schedule
 * tick due within the next two intervals — pending, due at its tick, published by the due relay
 * then — and moves the schedule past it in the same transaction. Every tracker runs it: the
 * schedule rows are locked `SKIP LOCKED` and claimed by compare-and-set, so each tick fires once
 * however many run, and a tracker killed mid-pass leaves the tick to the next pass.
 */
@Injectable()
export class SchedulerService extends PeriodicService {
  protected readonly logger = new Logger(SchedulerService.name);

  constructor(
    @Inject(TaskScheduleRepository) private readonly schedules: TaskScheduleRepository,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    super();
    metrics.scheduleTicks.inc({ outcome: 'fired' }, 0);
    metrics.scheduleTicks.inc({ outcome: 'skipped' }, 0);
    metrics.scheduleTicks.inc({ outcome: 'overlapped' }, 0);
    this.every(env.SCHEDULER_INTERVAL_MS, 'scheduler', () => this.pass());
  }

  /** Fires the due ticks of every schedule, a transaction per {@link SCHEDULES_PER_PASS} schedules. */
  async pass(): Promise<ScheduleFiring[]> {
    const all: ScheduleFiring[] = [];
    for (;;) {
      const firings = await this.schedules.fireDue({
        lookaheadMs: 2 * this.env.SCHEDULER_INTERVAL_MS,
        graceMs: this.env.SCHEDULE_MISFIRE_GRACE_MS,
        maxTicks: TICKS_PER_SCHEDULE,
        limit: SCHEDULES_PER_PASS,
      });
      firings.forEach((firing) => this.record(firing));
      all.push(...firings);
      if (firings.length < SCHEDULES_PER_PASS) {
        return all;
      }
    }
  }

  private record(firing: ScheduleFiring): void {
    const { plan } = firing;
    this.metrics.scheduleTicks.inc({ outcome: 'fired' }, plan.fire.length);
    if (plan.missed && plan.fire.length === 0 && firing.overlapped === 0) {
      this.metrics.scheduleTicks.inc({ outcome: 'skipped' });
    }
    firing.taskIds.forEach((taskId, index) => {
      this.logger.log({
        message: plan.missed ? 'missed schedule tick fired once on recovery' : 'schedule tick enqueued',
        task_id: taskId,
        schedule_id: firing.scheduleId,
        schedule: firing.name,
        tick: plan.fire[index].toISOString(),
      });
    });
    if (firing.overlapped > 0) {
      this.metrics.scheduleTicks.inc({ outcome: 'overlapped' }, firing.overlapped);
      this.logger.log({
        message: 'schedule tick skipped: the previous task has not finished (overlap skip)',
        task_id: firing.overlappedBy,
        schedule_id: firing.scheduleId,
        schedule: firing.name,
        ticks: firing.overlapped,
      });
    }
    if (plan.missed && plan.fire.length === 0 && firing.overlapped === 0) {
      this.logger.warn({
        message: 'missed schedule ticks skipped (policy skip)',
        schedule_id: firing.scheduleId,
        schedule: firing.name,
        next_run_at: plan.next?.toISOString() ?? null,
      });
    }
  }
}
