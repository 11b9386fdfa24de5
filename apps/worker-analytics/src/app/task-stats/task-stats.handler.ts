import { Inject } from '@nestjs/common';
import { TaskName, TaskStatsParams, TaskStatsResult } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '@tasklane/worker-runtime';
import { TaskStatsService } from './task-stats.service';

@HandlesTask(TaskName.AnalyticsTaskStats)
export class TaskStatsHandler implements TaskHandler<TaskName.AnalyticsTaskStats> {
  constructor(@Inject(TaskStatsService) private readonly stats: TaskStatsService) {}

  run(params: TaskStatsParams, context: TaskContext): Promise<TaskStatsResult> {
    return this.stats.compute(params, context.signal);
  }
}
