/**
 * Runs `work` every `intervalMs`, never two at once, and lets shutdown wait for the run in
 * progress. A failing run is reported to `onError` and tried again at the next tick.
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly work: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
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

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.current !== null;
  }

  private tick(): void {
    if (this.current) {
      return;
    }
    this.current = this.work()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.current = null;
      });
  }
}
