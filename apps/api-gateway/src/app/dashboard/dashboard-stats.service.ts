import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  DashboardSummary,
  QueueDepthResource,
  TASK_TYPES,
  TaskCountCell,
  TaskStatus,
  taskQueueName,
} from '@tasklane/contracts';
import { AmqpConnection } from '@tasklane/messaging';
import { TaskCountRepository } from '@tasklane/persistence';
import { RecentValue } from './recent-value';
import { ThroughputWindow } from './throughput-window';

/** How often the finished totals are sampled for the throughput chart, and how many samples are kept (10 min). */
export const THROUGHPUT_INTERVAL_MS = 5_000;
const THROUGHPUT_SAMPLES = 120;
/** However many dashboards poll, the counts are read at most once a second and the queues every 2 s. */
const COUNTS_MAX_AGE_MS = 1_000;
const QUEUES_MAX_AGE_MS = 2_000;

/**
 * What the dashboard's overview shows, from data the system already has: the exact counts per
 * (type, status) of ADR 0009, the queues as the broker reports them, and finished tasks per
 * 5 s over the last 10 minutes — sampled by this gateway from the counts (one cheap statement
 * per 5 s), so the chart of a freshly started gateway fills up from then on.
 */
@Injectable()
export class DashboardStats implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DashboardStats.name);
  private readonly throughput = new ThroughputWindow(THROUGHPUT_SAMPLES);
  private readonly counts: RecentValue<TaskCountCell[]>;
  private readonly queues: RecentValue<QueueDepthResource[]>;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(TaskCountRepository) private readonly taskCounts: Pick<TaskCountRepository, 'countsByTypeAndStatus'>,
    @Inject(AmqpConnection) private readonly broker: Pick<AmqpConnection, 'queueState'>,
  ) {
    this.counts = new RecentValue(() => this.readCounts(), COUNTS_MAX_AGE_MS);
    this.queues = new RecentValue(() => this.readQueues(), QUEUES_MAX_AGE_MS);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sample(), THROUGHPUT_INTERVAL_MS);
    this.timer.unref();
    void this.sample();
  }

  onApplicationShutdown(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  async summary(): Promise<DashboardSummary> {
    const [counts, queues] = await Promise.all([this.counts.get(), this.queues.get()]);
    return { counts, queues, throughput: { interval_ms: THROUGHPUT_INTERVAL_MS, samples: this.throughput.snapshot() } };
  }

  private async sample(): Promise<void> {
    try {
      const cells = await this.readCounts();
      const total = (status: TaskStatus) =>
        cells.filter((cell) => cell.status === status).reduce((sum, cell) => sum + cell.count, 0);
      this.throughput.record({
        at: new Date(),
        completed: total(TaskStatus.Completed),
        failed: total(TaskStatus.Failed),
      });
    } catch (error) {
      // The database is away: the chart has a gap, the next sample measures across it.
      this.logger.debug({ message: 'throughput sample skipped', error: (error as Error).message });
    }
  }

  private async readCounts(): Promise<TaskCountCell[]> {
    return (await this.taskCounts.countsByTypeAndStatus()).map((cell) => ({
      task_type: cell.taskType,
      status: cell.status,
      count: cell.count,
    }));
  }

  private async readQueues(): Promise<QueueDepthResource[]> {
    return Promise.all(
      TASK_TYPES.map(async (taskType): Promise<QueueDepthResource> => {
        const queue = taskQueueName(taskType);
        const state = await this.broker.queueState(queue).catch(() => null);
        return {
          task_type: taskType,
          queue,
          ready: state === null || state === 'missing' ? null : state.ready,
          consumers: state === null || state === 'missing' ? null : state.consumers,
        };
      }),
    );
  }
}
