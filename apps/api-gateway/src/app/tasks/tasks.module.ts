import { Module } from '@nestjs/common';
import { DispatchRecorder } from './dispatch-recorder';
import { PendingTaskWriter } from './pending-task.writer';
import { TasksController } from './tasks.controller';
import { CancelTask } from './use-cases/cancel-task.use-case';
import { EnqueueTasks } from './use-cases/enqueue-tasks.use-case';
import { RetryFailedTasks } from './use-cases/retry-failed-tasks.use-case';
import { RetryTask } from './use-cases/retry-task.use-case';
import { TaskDispatcher } from './use-cases/task-dispatcher';
import { TaskQueries } from './use-cases/task-queries.service';
import { WaitForTask } from './use-cases/wait-for-task.use-case';
import { TaskWaiters } from './waiting/task-waiters';

/** The tasks API: one use case per operation (the read side in TaskQueries), one way onto the broker. */
@Module({
  controllers: [TasksController],
  exports: [TaskQueries],
  providers: [
    EnqueueTasks,
    CancelTask,
    RetryTask,
    RetryFailedTasks,
    TaskQueries,
    TaskDispatcher,
    DispatchRecorder,
    PendingTaskWriter,
    TaskWaiters,
    WaitForTask,
  ],
})
export class TasksModule {}
