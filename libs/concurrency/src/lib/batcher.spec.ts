import { Batcher } from './batcher';

/** Group writes that finish when the test says so. */
function controlledWriter() {
  const groups: number[][] = [];
  const releases: Array<() => void> = [];
  let failWith: unknown = null;
  const writeGroup = async (items: number[]): Promise<Array<string | Promise<string>>> => {
    groups.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (failWith !== null) {
      throw failWith;
    }
    return items.map((item) => (item < 0 ? Promise.reject(new Error(`bad ${item}`)) : `done ${item}`));
  };
  const releaseAll = async (): Promise<void> => {
    while (releases.length > 0) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { groups, writeGroup, releaseAll, fail: (error: unknown) => (failWith = error) };
}

describe('Batcher', () => {
  it('writes alone and at once under light load', async () => {
    const writer = controlledWriter();
    const batcher = new Batcher(writer.writeGroup, { maxInFlight: 2, maxSize: 10, maxWaitMs: 0 });
    const one = batcher.add(1);
    expect(writer.groups).toEqual([[1]]);
    await writer.releaseAll();
    await expect(one).resolves.toBe('done 1');
  });

  it('gathers what arrives while the in-flight limit is reached, up to maxSize per batch, in order', async () => {
    const writer = controlledWriter();
    const batcher = new Batcher(writer.writeGroup, { maxInFlight: 2, maxSize: 3, maxWaitMs: 0 });
    const all = [1, 2, 3, 4, 5, 6, 7].map((item) => batcher.add(item));
    expect(writer.groups).toEqual([[1], [2]]);
    await writer.releaseAll();
    expect(writer.groups).toEqual([[1], [2], [3, 4, 5], [6, 7]]);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5, 6, 7].map((item) => `done ${item}`));
  });

  it('settles an item answered with a promise on its own, and fails a whole group on a throw', async () => {
    const writer = controlledWriter();
    const batcher = new Batcher(writer.writeGroup, { maxInFlight: 1, maxSize: 5, maxWaitMs: 0 });
    const first = batcher.add(1);
    const group = [2, -3, 4].map((item) => batcher.add(item).catch((error: Error) => error.message));
    await writer.releaseAll();
    await expect(first).resolves.toBe('done 1');
    await expect(Promise.all(group)).resolves.toEqual(['done 2', 'bad -3', 'done 4']);

    writer.fail(new Error('database away'));
    const failing = [5, 6].map((item) => batcher.add(item).catch((error: Error) => error.message));
    await writer.releaseAll();
    await expect(Promise.all(failing)).resolves.toEqual(['database away', 'database away']);
  });

  describe('with a wait', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('holds the first item up to maxWaitMs for others, then sends what gathered as one batch', async () => {
      const writer = controlledWriter();
      const batcher = new Batcher(writer.writeGroup, { maxInFlight: 1, maxSize: 10, maxWaitMs: 25 });
      const all = [1, 2, 3].map((item) => batcher.add(item));
      jest.advanceTimersByTime(24);
      expect(writer.groups).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(writer.groups).toEqual([[1, 2, 3]]);
      jest.useRealTimers();
      await writer.releaseAll();
      await expect(Promise.all(all)).resolves.toEqual(['done 1', 'done 2', 'done 3']);
    });

    it('sends a batch at once when its items reach maxSize, counted with sizeOf', () => {
      const writer = controlledWriter();
      const batcher = new Batcher(writer.writeGroup, {
        maxInFlight: 2,
        maxSize: 10,
        maxWaitMs: 1_000,
        sizeOf: (item) => item,
      });
      void batcher.add(4);
      void batcher.add(5);
      expect(writer.groups).toEqual([]);
      void batcher.add(3);
      // 4 + 5 fit in 10; 3 more would not: it waits for a batch of its own.
      expect(writer.groups).toEqual([[4, 5]]);
      jest.advanceTimersByTime(999);
      expect(writer.groups).toEqual([[4, 5]]);
      jest.advanceTimersByTime(1);
      expect(writer.groups).toEqual([[4, 5], [3]]);
    });

    it('starts the wait afresh for what arrives after a batch was sent', () => {
      const writer = controlledWriter();
      const batcher = new Batcher(writer.writeGroup, { maxInFlight: 2, maxSize: 10, maxWaitMs: 25 });
      void batcher.add(1);
      jest.advanceTimersByTime(25);
      jest.advanceTimersByTime(20);
      void batcher.add(2);
      jest.advanceTimersByTime(24);
      expect(writer.groups).toEqual([[1]]);
      jest.advanceTimersByTime(1);
      expect(writer.groups).toEqual([[1], [2]]);
    });

    it('flush sends everything waiting without waiting and resolves once all of it is written', async () => {
      const writer = controlledWriter();
      const batcher = new Batcher(writer.writeGroup, { maxInFlight: 1, maxSize: 2, maxWaitMs: 60_000 });
      const all = [1, 2, 3, 4, 5].map((item) => batcher.add(item));
      expect(writer.groups).toEqual([[1, 2]]);
      let flushed = false;
      const flushing = batcher.flush().then(() => (flushed = true));
      jest.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(flushed).toBe(false);
      await writer.releaseAll();
      await flushing;
      expect(writer.groups).toEqual([[1, 2], [3, 4], [5]]);
      expect(batcher.backlog).toBe(0);
      await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5].map((item) => `done ${item}`));
    });

    it('resolves items with undefined when the batch writes nothing back', async () => {
      const batches: string[][] = [];
      const batcher = new Batcher<string>(
        async (items) => {
          batches.push(items);
        },
        { maxInFlight: 1, maxSize: 100, maxWaitMs: 10 },
      );
      const both = Promise.all([batcher.add('a'), batcher.add('b')]);
      jest.advanceTimersByTime(10);
      jest.useRealTimers();
      await expect(both).resolves.toEqual([undefined, undefined]);
      expect(batches).toEqual([['a', 'b']]);
    });
  });
});
