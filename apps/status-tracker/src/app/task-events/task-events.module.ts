import { Module } from '@nestjs/common';
import { TaskEventsConsumer } from './task-events.consumer';
import { TaskEventsReadiness } from './task-events.readiness';
import { TrackerReplicaService } from './tracker-replica.service';

@Module({
  providers: [TaskEventsConsumer, TaskEventsReadiness, TrackerReplicaService],
  exports: [TaskEventsConsumer, TrackerReplicaService],
})
export class TaskEventsModule {}
