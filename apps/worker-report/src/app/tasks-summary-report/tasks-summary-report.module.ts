import { Module } from '@nestjs/common';
import { TasksSummaryReportHandler } from './tasks-summary-report.handler';
import { TasksSummaryReportService } from './tasks-summary-report.service';

@Module({ providers: [TasksSummaryReportService, TasksSummaryReportHandler] })
export class TasksSummaryReportModule {}
