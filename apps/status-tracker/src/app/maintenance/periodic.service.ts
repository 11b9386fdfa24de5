import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicJob } from '@tasklane/concurrency';

/**
 * A tracker service made of periodic jobs ({@link every}): started once the app is up, stopped on
 * shutdown — each waiting for its run in progress. A failed run is a warning naming the job; the
 * next tick tries again.
 */
export abstract class PeriodicService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected abstract readonly logger: Logger;
  private readonly jobs: PeriodicJob[] = [];

  /** Runs `work` every `intervalMs` (never two at once) between start-up and shutdown. */
  protected every(intervalMs: number, job: string, work: () => Promise<unknown>): void {
    this.jobs.push(
      new PeriodicJob(
        intervalMs,
        async () => {
          await work();
        },
        (error) => this.logger.warn({ message: `${job} failed; trying again`, error: (error as Error).message }),
      ),
    );
  }

  // Async so that a subclass may do something first (and Nest waits for it).
  // eslint-disable-next-line @typescript-eslint/require-await
  async onApplicationBootstrap(): Promise<void> {
    this.jobs.forEach((job) => job.start());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.jobs.map((job) => job.stop()));
  }
}
