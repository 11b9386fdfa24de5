import { Module } from '@nestjs/common';
import { TaskEventsModule } from '../task-events/task-events.module';
import { BacklogGauges } from './backlog.gauges';
import { CountFolderService } from './count-folder.service';
import { IdempotencyKeySweeper } from './idempotency-key-sweeper.service';
import { LeaseReconcilerService } from './lease-reconciler.service';
import { OutboxRelayService } from './outbox-relay.service';
import { RedispatchService } from './redispatch.service';
import { TaskAgingService } from './task-aging.service';

/**
 * Background jobs that keep `background_tasks` moving (outbox and due relay, re-dispatch of
 * commands the broker lost, aging of tasks starved by higher priorities, lease reconciler), its counts folded, expired idempotency keys
 * deleted, and backlog gauges.
 */
@Module({
  imports: [TaskEventsModule],
  providers: [
    OutboxRelayService,
    RedispatchService,
    TaskAgingService,
    LeaseReconcilerService,
    CountFolderService,
    BacklogGauges,
    IdempotencyKeySweeper,
  ],
})
export class MaintenanceModule {}
