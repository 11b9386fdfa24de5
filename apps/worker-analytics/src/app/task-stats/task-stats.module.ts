import { Module } from '@nestjs/common';
import { TaskStatsHandler } from './task-stats.handler';
import { TaskStatsService } from './task-stats.service';

@Module({ providers: [TaskStatsService, TaskStatsHandler] })
export class TaskStatsModule {}
