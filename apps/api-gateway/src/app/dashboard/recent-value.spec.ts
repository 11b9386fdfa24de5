import { RecentValue } from './recent-value';

describe('RecentValue', () => {
  it('reads once per max age, sharing the read between concurrent callers', async () => {
    let now = 0;
    let reads = 0;
    const value = new RecentValue(
      async () => ++reads,
      1_000,
      () => now,
    );
    expect(await Promise.all([value.get(), value.get(), value.get()])).toEqual([1, 1, 1]);
    now = 999;
    expect(await value.get()).toBe(1);
    now = 1_000;
    expect(await value.get()).toBe(2);
    expect(reads).toBe(2);
  });

  it('does not keep a failed read: the next caller reads again', async () => {
    let fail = true;
    const value = new RecentValue(async () => {
      if (fail) {
        throw new Error('database away');
      }
      return 'ok';
    }, 60_000);
    await expect(value.get()).rejects.toThrow('database away');
    fail = false;
    await expect(value.get()).resolves.toBe('ok');
  });
});
