import { Module } from '@nestjs/common';
import { TasksSummaryReportService } from './tasks-summary-report.service';

@Module({ providers: [TasksSummaryReportService] })
export class TasksSummaryReportModule {}
