import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';
import { DashboardStats } from './dashboard-stats.service';

/** The operator's dashboard: its own reads (summary, caller); its files are served by serveDashboard. */
@Module({ controllers: [DashboardController], providers: [DashboardStats] })
export class DashboardModule {}
