export type SlotGrant = 'granted' | 'timeout' | 'closed';

/**
 * Bounds the tasks a worker runs at once. Deliveries are acked at the claim, so the prefetch no
 * longer bounds them: a delivery first takes a slot, waiting (unacked) for one if need be — but
 * never longer than `maxWaitMs`, so that RabbitMQ's consumer_timeout never fires on a delivery
 * that is merely queued here; the caller then hands it back to the broker.
 */
export class SlotPool {
  private taken = 0;
  private closed = false;
  private readonly waiting: Array<(grant: SlotGrant) => void> = [];

  constructor(private readonly size: number) {}

  acquire(maxWaitMs: number): Promise<SlotGrant> {
    if (this.closed) {
      return Promise.resolve('closed');
    }
    if (this.taken < this.size) {
      this.taken += 1;
      return Promise.resolve('granted');
    }
    return new Promise<SlotGrant>((resolve) => {
      const waiter = (grant: SlotGrant): void => {
        clearTimeout(timer);
        resolve(grant);
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) {
          this.waiting.splice(index, 1);
          resolve('timeout');
        }
      }, maxWaitMs);
      this.waiting.push(waiter);
    });
  }

  /** Passes the slot straight to the delivery waiting longest, if any. */
  release(): void {
    const next = this.waiting.shift();
    if (next) {
      next('granted');
    } else {
      this.taken -= 1;
    }
  }

  /** No new slots: every waiting delivery is told `closed`. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter('closed');
    }
  }

  /** Closed (the worker is stopping): nothing new should start. */
  get isClosed(): boolean {
    return this.closed;
  }

  get inUse(): number {
    return this.taken;
  }
}
