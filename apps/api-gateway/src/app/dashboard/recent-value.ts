/**
 * A value read at most once per `maxAgeMs`, however many callers ask: callers within the age get
 * the last value, and concurrent callers share one read. A failed read is not kept.
 */
export class RecentValue<T> {
  private value: { at: number; promise: Promise<T> } | null = null;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const now = this.now();
    if (this.value === null || now - this.value.at >= this.maxAgeMs) {
      const promise = this.read();
      const entry = { at: now, promise };
      this.value = entry;
      promise.catch(() => {
        if (this.value === entry) {
          this.value = null;
        }
      });
    }
    return this.value.promise;
  }
}
