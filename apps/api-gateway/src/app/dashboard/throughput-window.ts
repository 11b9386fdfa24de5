import { ThroughputSample } from '@tasklane/contracts';

/** Totals of finished tasks at one moment (all types). */
export interface FinishedTotals {
  at: Date;
  completed: number;
  failed: number;
}

/**
 * Tasks finished per interval over the last `capacity` intervals, from totals read at each
 * interval's end: each sample is the change since the previous totals. A total that went down
 * (retention deleted finished tasks, a retry took a failed one back) counts as nothing finished
 * rather than a negative number.
 */
export class ThroughputWindow {
  private readonly samples: ThroughputSample[] = [];
  private last: FinishedTotals | null = null;

  constructor(private readonly capacity: number) {}

  record(totals: FinishedTotals): void {
    if (this.last !== null) {
      this.samples.push({
        at: totals.at.toISOString(),
        completed: Math.max(0, totals.completed - this.last.completed),
        failed: Math.max(0, totals.failed - this.last.failed),
      });
      if (this.samples.length > this.capacity) {
        this.samples.splice(0, this.samples.length - this.capacity);
      }
    }
    this.last = totals;
  }

  /** The samples, oldest first (a copy). */
  snapshot(): ThroughputSample[] {
    return [...this.samples];
  }
}
