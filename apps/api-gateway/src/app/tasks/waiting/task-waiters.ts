import { Inject, Injectable, Logger, OnApplicationShutdown, ServiceUnavailableException } from '@nestjs/common';
import { TaskQueryRepository } from '@tasklane/persistence';
import { GatewayEnv } from '../../gateway.env';

type Wake = () => void;

/**
 * The clients waiting for tasks to finish (`GET /api/tasks/{id}?wait=`), in memory: one set of
 * wake-ups per task. While anyone waits, one loop reads every TASK_WAIT_POLL_INTERVAL_MS which of
 * the waited tasks are finished — one indexed read for all of them (by 1,000 ids), however many
 * clients wait — and wakes their clients, who then read their task once. Nobody waiting: no
 * reads at all. A client that leaves, times out, or a gateway shutting down takes its wake-up out.
 */
@Injectable()
export class TaskWaiters implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskWaiters.name);
  private readonly waiting = new Map<string, Set<Wake>>();
  private clients = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    @Inject(TaskQueryRepository) private readonly tasks: Pick<TaskQueryRepository, 'finishedAmong'>,
    @Inject(GatewayEnv) private readonly env: Pick<GatewayEnv, 'TASK_WAIT_POLL_INTERVAL_MS' | 'TASK_WAIT_MAX_CLIENTS'>,
  ) {}

  /** Clients waiting now. */
  get size(): number {
    return this.clients;
  }

  /**
   * Resolves once the task has finished (or is gone), after `timeoutMs`, when `signal` aborts
   * (the client left) or when the gateway shuts down — whichever comes first. Refuses (503) beyond
   * TASK_WAIT_MAX_CLIENTS waiting clients.
   */
  wait(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) {
      return Promise.resolve();
    }
    if (this.clients >= this.env.TASK_WAIT_MAX_CLIENTS) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `Too many clients waiting for tasks (${this.env.TASK_WAIT_MAX_CLIENTS}); retry without wait, or later`,
      });
    }
    return new Promise<void>((resolve) => {
      const wake: Wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        if (this.remove(taskId, wake)) {
          resolve();
        }
      };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      const wakes = this.waiting.get(taskId) ?? new Set<Wake>();
      wakes.add(wake);
      this.waiting.set(taskId, wakes);
      this.clients += 1;
      this.schedule();
    });
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const wakes of [...this.waiting.values()]) {
      [...wakes].forEach((wake) => wake());
    }
  }

  /** Looks again which waited tasks finished; wakes their clients. */
  async poll(): Promise<void> {
    const taskIds = [...this.waiting.keys()];
    if (taskIds.length === 0) {
      return;
    }
    try {
      const finished = await this.tasks.finishedAmong(taskIds);
      for (const taskId of finished) {
        [...(this.waiting.get(taskId) ?? [])].forEach((wake) => wake());
      }
    } catch (error) {
      // The database is away: the clients go on waiting (their timeouts still hold).
      this.logger.warn({ message: 'could not look up the tasks clients wait for', error: (error as Error).message });
    }
  }

  private remove(taskId: string, wake: Wake): boolean {
    const wakes = this.waiting.get(taskId);
    if (!wakes?.delete(wake)) {
      return false;
    }
    this.clients -= 1;
    if (wakes.size === 0) {
      this.waiting.delete(taskId);
    }
    return true;
  }

  private schedule(): void {
    if (this.timer !== null || this.waiting.size === 0) {
      return;
    }
    this.timer = setTimeout(() => {
      void this.poll().finally(() => {
        this.timer = null;
        this.schedule();
      });
    }, this.env.TASK_WAIT_POLL_INTERVAL_MS);
  }
}
