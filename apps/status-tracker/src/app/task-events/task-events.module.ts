import { Module } from '@nestjs/common';
import { TaskEventsConsumer } from './task-events.consumer';
import { TaskEventsReadiness } from './task-events.readiness';

@Module({ providers: [TaskEventsConsumer, TaskEventsReadiness], exports: [TaskEventsConsumer] })
export class TaskEventsModule {}
