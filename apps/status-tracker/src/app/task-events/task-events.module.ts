import { Module } from '@nestjs/common';
import { TaskEventsConsumer } from './task-events.consumer';

@Module({ providers: [TaskEventsConsumer] })
export class TaskEventsModule {}
