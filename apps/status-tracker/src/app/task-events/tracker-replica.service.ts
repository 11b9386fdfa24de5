import { Inject, Injectable, Logger } from '@nestjs/common';
import { sleep } from '@tasklane/concurrency';
import { randomUUID } from 'node:crypto';
import { DatabaseUnavailableError, TrackerReplicaRepository } from '@tasklane/persistence';
import { PeriodicService } from '../maintenance/periodic.service';
import { TrackerEnv } from '../tracker.env';
import { TaskEventsConsumer } from './task-events.consumer';

/** Replicas not heard of for this many timeouts are deleted from the table. */
const PRUNE_AFTER_TIMEOUTS = 10;
/** How often {@link TrackerReplicaService.allSettledAt} looks again while it waits. */
const SETTLED_POLL_MS = 100;

/**
 * This tracker in `tracker_replicas` (ADR 0010): every TRACKER_HEARTBEAT_INTERVAL_MS it reports
 * itself alive and up to when everything it received from its queue is written. With several
 * trackers consuming one queue, that is how one of them knows that no other still holds an
 * unwritten event. The row is removed on shutdown, once the consumer has stopped.
 */
@Injectable()
export class TrackerReplicaService extends PeriodicService {
  protected readonly logger = new Logger(TrackerReplicaService.name);
  readonly replicaId = randomUUID();
  private reports = 0;

  constructor(
    @Inject(TrackerReplicaRepository) private readonly replicas: TrackerReplicaRepository,
    @Inject(TaskEventsConsumer) private readonly events: TaskEventsConsumer,
    @Inject(TrackerEnv) private readonly env: TrackerEnv,
  ) {
    super();
    this.every(env.TRACKER_HEARTBEAT_INTERVAL_MS, 'tracker heartbeat', () => this.report());
  }

  override async onApplicationBootstrap(): Promise<void> {
    await this.report().catch((error: unknown) =>
      this.logger.warn({ message: 'could not report this tracker yet', error: (error as Error).message }),
    );
    await super.onApplicationBootstrap();
  }

  override async beforeApplicationShutdown(): Promise<void> {
    await super.beforeApplicationShutdown();
    // The consumer drains before any shutdown hook (BrokerTransport.close); this waits for it.
    await this.events.whenStopped();
    await this.replicas.remove(this.replicaId).catch((error: unknown) =>
      this.logger.warn({
        message: 'could not remove this tracker from tracker_replicas; it is ignored once its heartbeat is old',
        error: (error as Error).message,
      }),
    );
  }

  /** Reports this tracker now: alive, and everything received before its oldest unwritten delivery is written. */
  async report(): Promise<void> {
    await this.replicas.report(this.replicaId, this.events.unsettledForMs());
    this.reports += 1;
    if (this.reports % 60 === 0) {
      await this.replicas.prune(this.env.TRACKER_REPLICA_TIMEOUT_MS * PRUNE_AFTER_TIMEOUTS);
    }
  }

  /**
   * Waits, up to `timeoutMs`, until every live tracker — this one included — has written what it
   * received up to `at` (database clock). False when one has not by then, or the database is away.
   */
  async allSettledAt(at: Date, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.events.settled();
        await this.report();
        if ((await this.replicas.unsettledAt(at, this.env.TRACKER_REPLICA_TIMEOUT_MS)) === 0) {
          return true;
        }
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError)) {
          throw error;
        }
        return false;
      }
      if (Date.now() + SETTLED_POLL_MS > deadline) {
        return false;
      }
      await sleep(SETTLED_POLL_MS);
    }
  }
}
