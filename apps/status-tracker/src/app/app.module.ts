import { Module } from '@nestjs/common';
import { ConfigModule } from '@tasklane/config';
import { AmqpModule } from '@tasklane/messaging';
import { DatabaseModule } from '@tasklane/persistence';
import { TaskEventsModule } from './task-events/task-events.module';
import { TrackerEnv } from './tracker.env';

@Module({
  imports: [ConfigModule.forRoot(TrackerEnv), AmqpModule, DatabaseModule.forRoot(), TaskEventsModule],
})
export class AppModule {}
