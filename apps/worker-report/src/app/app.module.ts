import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { TaskType } from '@tasklane/contracts';
import { WorkerRuntimeModule } from '@tasklane/worker-runtime';
import { ReportWorkerEnv } from './report-worker.env';
import { TasksSummaryReportModule } from './tasks-summary-report/tasks-summary-report.module';

@Module({
  imports: [
    ConfigModule.forRoot(ReportWorkerEnv),
    WorkerRuntimeModule.forRoot({ taskType: TaskType.Report }),
    TasksSummaryReportModule,
  ],
})
export class AppModule {}
