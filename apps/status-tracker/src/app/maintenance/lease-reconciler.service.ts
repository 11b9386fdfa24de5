import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from '@tasklane/contracts';
import { AmqpConnection } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { TaskClaimRepository, TrackerReplicaRepository } from '@tasklane/persistence';
import { TaskEventsConsumer } from '../task-events/task-events.consumer';
import { TrackerReplicaService } from '../task-events/tracker-replica.service';
import { TrackerEnv } from '../tracker.env';
import { PeriodicService } from './periodic.service';

const BATCH = 200;
/**
 * An event the broker delivered before the queue was seen empty may still be on its way into a
 * tracker (the socket, a busy event loop): trackers must have written what they received up to
 * this long after the check.
 */
const DELIVERY_MARGIN_MS = 1_000;

/**
 * The reconciler (ADR 0005): a running task whose lease expired (plus a grace period) lost its
 * worker — killed, or cut off from the database long enough to give the task up by itself. It
 * is handed back: pending again, a new generation, into the outbox for the relay. A crash does
 * not count as a retry.
 *
 * A worker renews its lease until its outcome is confirmed, so an outcome is always published
 * before the lease expires. Each run therefore first checks that the trackers have received
 * everything published so far (their queue holds no ready message), waits until every live
 * tracker — however many replicas run (ADR 0010) — has written what it received by then, and then
 * reclaims only leases that had expired (plus the grace) before that check: an outcome waiting in
 * the queue or in a tracker's hands — even after the trackers were down longer than a lease —
 * decides its task, never a re-run. Several trackers may reconcile at once: reclaims lock rows
 * with SKIP LOCKED and only take running rows.
 */
@Injectable()
export class LeaseReconcilerService extends PeriodicService {
  protected readonly logger = new Logger(LeaseReconcilerService.name);

  constructor(
    @Inject(TaskClaimRepository) private readonly claims: TaskClaimRepository,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TaskEventsConsumer) private readonly events: TaskEventsConsumer,
    @Inject(TrackerReplicaService) private readonly replica: TrackerReplicaService,
    @Inject(TrackerReplicaRepository) private readonly replicas: TrackerReplicaRepository,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    super();
    metrics.leasesReclaimed.inc(0);
    this.every(env.RECONCILE_INTERVAL_MS, 'lease reconciler', () => this.reconcile());
  }

  async reconcile(): Promise<void> {
    if (!this.events.isConsuming()) {
      return;
    }
    const checkedAt = Date.now();
    const checkedAtOnDatabase = await this.replicas.now();
    if ((await this.broker.readyMessages(Queue.StatusTracker)) !== 0) {
      return;
    }
    const settled = await this.replica.allSettledAt(
      new Date(checkedAtOnDatabase.getTime() + DELIVERY_MARGIN_MS),
      DELIVERY_MARGIN_MS + 3 * this.env.TRACKER_HEARTBEAT_INTERVAL_MS,
    );
    if (!settled) {
      // Another tracker still holds events received before the check (or has not reported since):
      // try again at the next run.
      return;
    }
    // Only leases that expired (plus the grace) before the queue was seen empty.
    const graceMs = this.env.LEASE_EXPIRY_GRACE_MS + (Date.now() - checkedAt);
    for (;;) {
      const reclaimed = await this.claims.reclaimExpired(graceMs, BATCH);
      this.metrics.leasesReclaimed.inc(reclaimed.length);
      for (const taskId of reclaimed) {
        this.logger.warn({ message: 'lease expired: task handed back to the queue', task_id: taskId });
      }
      if (reclaimed.length < BATCH) {
        return;
      }
    }
  }
}
