import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { AmqpModule } from '@tasklane/messaging';
import { ObservabilityModule } from '@tasklane/observability';
import { DatabaseModule } from '@tasklane/persistence';
import { AuthModule } from './auth/auth.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { GatewayEnv } from './gateway.env';
import { OpsModule } from './ops/ops.module';
import { SchedulesModule } from './schedules/schedules.module';
import { TasksModule } from './tasks/tasks.module';

@Module({
  imports: [
    ConfigModule.forRoot(GatewayEnv),
    AmqpModule,
    DatabaseModule.forRoot(),
    ObservabilityModule.forRoot({ appName: 'api-gateway', opsServer: false }),
    AuthModule,
    TasksModule,
    SchedulesModule,
    OpsModule,
    DashboardModule,
  ],
})
export class AppModule {}
