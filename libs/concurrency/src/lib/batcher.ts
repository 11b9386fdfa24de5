export interface BatcherOptions<T> {
  /** Most items in one batch (counted with {@link sizeOf}); reaching it sends the batch at once. */
  maxSize: number;
  /**
   * How long the first item of a batch waits for others before the batch is sent. 0: sent as
   * soon as a write slot is free, so under light load each item goes alone with no added wait.
   */
  maxWaitMs: number;
  /** Batches being written at once; items arriving meanwhile gather into the next batch. */
  maxInFlight: number;
  /** The size of an item, e.g. the number of events a message carries; 1 by default. */
  sizeOf?: (item: T) => number;
}

/** Writes a batch: one result per item, in order, or nothing when items have no result. */
export type WriteBatch<T, R> = (items: T[]) => Promise<Array<R | Promise<R>> | void>;

interface Waiting<T, R> {
  item: T;
  size: number;
  resolve: (result: R | PromiseLike<R>) => void;
  reject: (error: unknown) => void;
  settled: Promise<unknown>;
}

/**
 * Turns many single writes into few batch writes, bounded by size and by time: items gather
 * until `maxSize` is reached or the first of them has waited `maxWaitMs`, and at most
 * `maxInFlight` batches are written at once. `add` resolves with the item's result once its batch
 * is written; if `writeBatch` throws, every item of that batch fails with that error (a promise
 * returned for one item settles that item on its own).
 */
export class Batcher<T, R = void> {
  private waiting: Array<Waiting<T, R>> = [];
  private waitingSize = 0;
  private inFlight = 0;
  private readonly writes = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  /** The first waiting item has waited `maxWaitMs`. */
  private waited = false;
  /** How many of the first waiting items {@link flush} asked to send without waiting. */
  private forced = 0;
  private readonly sizeOf: (item: T) => number;

  constructor(
    private readonly writeBatch: WriteBatch<T, R>,
    private readonly options: BatcherOptions<T>,
  ) {
    this.sizeOf = options.sizeOf ?? (() => 1);
  }

  add(item: T): Promise<R> {
    let entry!: Waiting<T, R>;
    const result = new Promise<R>((resolve, reject) => {
      entry = { item, size: this.sizeOf(item), resolve, reject, settled: Promise.resolve() };
    });
    entry.settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.waiting.push(entry);
    this.waitingSize += entry.size;
    this.drain();
    return result;
  }

  /** Items added and not yet sent. */
  get backlog(): number {
    return this.waiting.length;
  }

  /** Sends every waiting item now and resolves once they, and every batch in flight, are settled. */
  async flush(): Promise<void> {
    const settled = [...this.waiting.map((entry) => entry.settled), ...this.writes];
    this.forced = this.waiting.length;
    this.drain();
    await Promise.all(settled);
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0 && this.isReady()) {
      this.send(this.takeBatch());
    }
    if (this.waiting.length === 0) {
      this.clearTimer();
    } else if (!this.waited && this.timer === null && this.options.maxWaitMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.waited = true;
        this.drain();
      }, this.options.maxWaitMs);
    }
  }

  private isReady(): boolean {
    return this.options.maxWaitMs <= 0 || this.waited || this.forced > 0 || this.waitingSize >= this.options.maxSize;
  }

  /** The first items, up to `maxSize` (at least one); what is left waits afresh. */
  private takeBatch(): Array<Waiting<T, R>> {
    let size = this.waiting[0].size;
    let count = 1;
    while (count < this.waiting.length && size + this.waiting[count].size <= this.options.maxSize) {
      size += this.waiting[count].size;
      count += 1;
    }
    this.waitingSize -= size;
    this.forced = Math.max(0, this.forced - count);
    this.waited = false;
    this.clearTimer();
    return this.waiting.splice(0, count);
  }

  private send(batch: Array<Waiting<T, R>>): void {
    this.inFlight += 1;
    const write = this.writeBatch(batch.map((entry) => entry.item))
      .then(
        (results) => batch.forEach((entry, index) => entry.resolve(results ? results[index] : (undefined as R))),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      )
      .finally(() => {
        this.inFlight -= 1;
        this.writes.delete(write);
        this.drain();
      });
    this.writes.add(write);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
