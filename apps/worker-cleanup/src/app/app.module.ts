import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { TaskType } from '@tasklane/contracts';
import { WorkerRuntimeModule } from '@tasklane/worker-runtime';
import { CleanupWorkerEnv } from './cleanup-worker.env';
import { PurgeTasksModule } from './purge-tasks/purge-tasks.module';

@Module({
  imports: [
    ConfigModule.forRoot(CleanupWorkerEnv),
    WorkerRuntimeModule.forRoot({ taskType: TaskType.Cleanup }),
    PurgeTasksModule,
  ],
})
export class AppModule {}
