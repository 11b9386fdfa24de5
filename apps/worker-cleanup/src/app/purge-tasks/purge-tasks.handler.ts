import { Inject } from '@nestjs/common';
import { PurgeTasksParams, PurgeTasksResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '@tasklane/worker-runtime';
import { PurgeTasksService } from './purge-tasks.service';

@HandlesTask(TaskName.CleanupPurgeTasks)
export class PurgeTasksHandler implements TaskHandler<TaskName.CleanupPurgeTasks> {
  constructor(@Inject(PurgeTasksService) private readonly purger: PurgeTasksService) {}

  run(params: PurgeTasksParams, context: TaskContext): Promise<PurgeTasksResult> {
    return this.purger.purge(params, context.signal);
  }
}
