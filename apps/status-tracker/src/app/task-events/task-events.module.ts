import { Module } from '@nestjs/common';
import { TaskEventsConsumer } from './task-events.consumer';

@Module({ providers: [TaskEventsConsumer], exports: [TaskEventsConsumer] })
export class TaskEventsModule {}
