import { Module } from '@nestjs/common';
import { TaskStatsService } from './task-stats.service';

@Module({ providers: [TaskStatsService] })
export class TaskStatsModule {}
