import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { AmqpModule } from '@tasklane/messaging';
import { DatabaseModule } from '@tasklane/persistence';
import { GatewayEnv } from './gateway.env';
import { TasksModule } from './tasks/tasks.module';

@Module({
  imports: [ConfigModule.forRoot(GatewayEnv), AmqpModule, DatabaseModule.forRoot(), TasksModule],
})
export class AppModule {}
