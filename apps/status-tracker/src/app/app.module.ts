import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { AmqpModule } from '@tasklane/messaging';
import { ObservabilityModule } from '@tasklane/observability';
import { DatabaseModule } from '@tasklane/persistence';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { SchedulesModule } from './schedules/schedules.module';
import { TaskEventsModule } from './task-events/task-events.module';
import { TrackerEnv } from './tracker.env';

@Module({
  imports: [
    ConfigModule.forRoot(TrackerEnv),
    AmqpModule,
    DatabaseModule.forRoot(),
    TaskEventsModule,
    MaintenanceModule,
    SchedulesModule,
    ObservabilityModule.forRoot({ appName: 'status-tracker', opsServer: true }),
  ],
})
export class AppModule {}
