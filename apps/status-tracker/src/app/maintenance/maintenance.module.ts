import { Module } from '@nestjs/common';
import { TaskEventsModule } from '../task-events/task-events.module';
import { LeaseReconcilerService } from './lease-reconciler.service';
import { OutboxRelayService } from './outbox-relay.service';

/** Background jobs that keep `background_tasks` moving: the outbox relay and the lease reconciler. */
@Module({ imports: [TaskEventsModule], providers: [OutboxRelayService, LeaseReconcilerService] })
export class MaintenanceModule {}
