export interface WriteCoalescerOptions {
  /** Group writes in flight at once; further items wait and go together into the next group. */
  maxInFlight: number;
  /** Most items in one group. */
  maxGroup: number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R | PromiseLike<R>) => void;
  reject: (error: unknown) => void;
}

/**
 * Turns many concurrent single writes into few group writes: while `maxInFlight` group writes
 * are on their way, new items gather, and go together as the next group. Under light load each
 * item is written at once, alone, with no added wait; under heavy load the statements grow
 * instead of multiplying. `writeGroup` answers one result per item, in order (a promise for an
 * item settles that item on its own); if it throws, every item of the group fails with that error.
 */
export class WriteCoalescer<T, R> {
  private waiting: Array<Waiting<T, R>> = [];
  private inFlight = 0;

  constructor(
    private readonly writeGroup: (items: T[]) => Promise<Array<R | Promise<R>>>,
    private readonly options: WriteCoalescerOptions,
  ) {}

  write(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.options.maxGroup);
      this.inFlight += 1;
      void this.writeGroup(group.map((waiting) => waiting.item))
        .then(
          (results) => group.forEach((waiting, index) => waiting.resolve(results[index])),
          (error: unknown) => group.forEach((waiting) => waiting.reject(error)),
        )
        .finally(() => {
          this.inFlight -= 1;
          this.drain();
        });
    }
  }
}
