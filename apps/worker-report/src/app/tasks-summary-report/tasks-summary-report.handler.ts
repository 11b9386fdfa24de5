import { Inject } from '@nestjs/common';
import { TaskName, TasksSummaryReportParams, TasksSummaryReportResult } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '@tasklane/worker-runtime';
import { TasksSummaryReportService } from './tasks-summary-report.service';

@HandlesTask(TaskName.ReportTasksSummary)
export class TasksSummaryReportHandler implements TaskHandler<TaskName.ReportTasksSummary> {
  constructor(@Inject(TasksSummaryReportService) private readonly reports: TasksSummaryReportService) {}

  run(params: TasksSummaryReportParams, context: TaskContext): Promise<TasksSummaryReportResult> {
    return this.reports.generate(params, context.taskId, context.signal);
  }
}
