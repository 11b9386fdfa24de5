import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { TaskType } from '@tasklane/contracts';
import { WorkerEnv, WorkerRuntimeModule } from '@tasklane/worker-runtime';
import { TaskStatsModule } from './task-stats/task-stats.module';

@Module({
  imports: [
    ConfigModule.forRoot(WorkerEnv),
    WorkerRuntimeModule.forRoot({ taskType: TaskType.Analytics }),
    TaskStatsModule,
  ],
})
export class AppModule {}
