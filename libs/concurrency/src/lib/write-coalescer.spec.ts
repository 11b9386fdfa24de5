import { WriteCoalescer } from './write-coalescer';

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

describe('WriteCoalescer', () => {
  it('writes alone and at once under light load', async () => {
    const writer = controlledWriter();
    const coalescer = new WriteCoalescer(writer.writeGroup, { maxInFlight: 2, maxGroup: 10 });
    const one = coalescer.write(1);
    expect(writer.groups).toEqual([[1]]);
    await writer.releaseAll();
    await expect(one).resolves.toBe('done 1');
  });

  it('gathers what arrives while the in-flight limit is reached, up to maxGroup per group, in order', async () => {
    const writer = controlledWriter();
    const coalescer = new WriteCoalescer(writer.writeGroup, { maxInFlight: 2, maxGroup: 3 });
    const all = [1, 2, 3, 4, 5, 6, 7].map((item) => coalescer.write(item));
    expect(writer.groups).toEqual([[1], [2]]);
    await writer.releaseAll();
    expect(writer.groups).toEqual([[1], [2], [3, 4, 5], [6, 7]]);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5, 6, 7].map((item) => `done ${item}`));
  });

  it('settles an item answered with a promise on its own, and fails a whole group on a throw', async () => {
    const writer = controlledWriter();
    const coalescer = new WriteCoalescer(writer.writeGroup, { maxInFlight: 1, maxGroup: 5 });
    const first = coalescer.write(1);
    const group = [2, -3, 4].map((item) => coalescer.write(item).catch((error: Error) => error.message));
    await writer.releaseAll();
    await expect(first).resolves.toBe('done 1');
    await expect(Promise.all(group)).resolves.toEqual(['done 2', 'bad -3', 'done 4']);

    writer.fail(new Error('database away'));
    const failing = [5, 6].map((item) => coalescer.write(item).catch((error: Error) => error.message));
    await writer.releaseAll();
    await expect(Promise.all(failing)).resolves.toEqual(['database away', 'database away']);
  });
});
