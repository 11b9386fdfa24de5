import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Queue } from '@tasklane/contracts';
import { AmqpConnection } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { BackgroundTaskRepository } from '@tasklane/persistence';
import { TaskEventsConsumer } from '../task-events/task-events.consumer';
import { TrackerEnv } from '../tracker.env';
import { PeriodicJob } from './periodic-job';

const BATCH = 200;

/**
 * The reconciler (ADR 0005): a running task whose lease expired (plus a grace period) lost its
 * worker — killed, or cut off from the database long enough to give the task up by itself. It
 * is handed back: pending again, a new generation, into the outbox for the relay. A crash does
 * not count as a retry.
 *
 * A worker renews its lease until its outcome is confirmed, so an outcome is always published
 * before the lease expires. Each run therefore first checks that this tracker has received
 * everything published so far (its queue holds no ready message), waits until what it received is
 * written, and then reclaims only leases that had expired (plus the grace) before that check: an
 * outcome waiting in the queue — even after the tracker was down longer than a lease — decides
 * its task, never a re-run.
 */
@Injectable()
export class LeaseReconcilerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LeaseReconcilerService.name);
  private readonly job: PeriodicJob;

  constructor(
    @Inject(BackgroundTaskRepository) private readonly tasks: BackgroundTaskRepository,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(TaskEventsConsumer) private readonly events: TaskEventsConsumer,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    metrics.leasesReclaimed.inc(0);
    this.job = new PeriodicJob('lease reconciler', env.RECONCILE_INTERVAL_MS, () => this.reconcile(), this.logger);
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.job.stop();
  }

  async reconcile(): Promise<void> {
    const checkedAt = Date.now();
    if (!this.events.isConsuming() || (await this.broker.readyMessages(Queue.StatusTracker)) !== 0) {
      return;
    }
    await this.events.settled();
    // Only leases that expired (plus the grace) before the queue was seen empty.
    const graceMs = this.env.LEASE_EXPIRY_GRACE_MS + (Date.now() - checkedAt);
    for (;;) {
      const reclaimed = await this.tasks.reclaimExpired(graceMs, BATCH);
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
