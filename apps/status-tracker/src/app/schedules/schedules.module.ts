import { Module } from '@nestjs/common';
import { SchedulerService } from './scheduler.service';

/** The cron scheduler: turns the ticks of `task_schedules` into tasks, exactly once each. */
@Module({ providers: [SchedulerService] })
export class SchedulesModule {}
