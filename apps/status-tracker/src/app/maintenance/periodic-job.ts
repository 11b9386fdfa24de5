import { Logger } from '@nestjs/common';

/**
 * Runs `work` every `intervalMs`, never two at once, and lets shutdown wait for the run in
 * progress. A failing run is logged and tried again at the next tick.
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly work: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    await this.current;
  }

  private tick(): void {
    if (this.current) {
      return;
    }
    this.current = this.work()
      .catch((error: unknown) =>
        this.logger.warn({ message: `${this.name} failed; trying again`, error: (error as Error).message }),
      )
      .finally(() => {
        this.current = null;
      });
  }
}
